// The small typed messages between the converter page and its Worker.

/** An output the browser can encode. */
export interface OutputChoice {
  id: 'webm' | 'mp4';
  label: string;
}

/** What the page asks of the worker. */
export type ToWorker =
  | { type: 'formats' }
  | {
      type: 'convert';
      /** A file the user picked, or `null` for the built-in sample. */
      file: File | null;
      format: OutputChoice['id'];
      /** Output height in pixels, or `null` to keep the input's. */
      height: number | null;
      /** The usage server (the page's own origin in the demo). */
      endpoint: string;
      /** The public licence key, or `null` to register as unlicensed. */
      licenseKey: string | null;
    }
  | { type: 'cancel' };

/** How the background registration settled, as the page shows it. */
export type Registration =
  | { ok: true; billable: boolean; classification: 'billable' | 'development' | 'failed'; overLimit: boolean; body: string }
  | { ok: false; message: string; body: string | null };

/** What the worker tells the page. */
export type FromWorker =
  | { type: 'formats'; formats: OutputChoice[] }
  | { type: 'stage'; text: string }
  | { type: 'progress'; value: number }
  | {
      type: 'done';
      output: Blob;
      fileName: string;
      inputBytes: number;
      outputBytes: number;
      durationSeconds: number;
      elapsedMs: number;
    }
  | { type: 'cancelled' }
  | { type: 'error'; message: string }
  | { type: 'registered'; registration: Registration };
