// The conversion, off the main thread: Mediabunny reads the input, converts it to
// WebM or MP4, and usage-telemetry's trackConversion registers the outcome with
// the usage server in the background once the conversion has settled.
import {
  ALL_FORMATS,
  BlobSource,
  BufferTarget,
  Conversion,
  Input,
  Mp4OutputFormat,
  Output,
  WebMOutputFormat,
  canEncodeAudio,
  getFirstEncodableAudioCodec,
  getFirstEncodableVideoCodec,
  type AudioCodec,
  type VideoCodec,
} from 'mediabunny';
import init, { trackConversion, type RegistrationOutcome } from 'usage-telemetry';
import type { FromWorker, OutputChoice, Registration, ToWorker } from './messages';
import { makeSample } from './sample';

interface Codecs {
  video: VideoCodec;
  audio: AudioCodec;
}

const ready = init();
const aacReady = registerAacIfMissing();
let running: Conversion | null = null;
let cancelRequested = false;

function post(message: FromWorker): void {
  self.postMessage(message);
}

/**
 * Some browsers (Chromium builds without proprietary codecs, Firefox on Linux)
 * cannot encode AAC; Mediabunny's AAC encoder extension (FFmpeg's, in WASM) fills
 * in there, loaded only where it is needed.
 */
async function registerAacIfMissing(): Promise<void> {
  if (await canEncodeAudio('aac')) return;
  const { registerAacEncoder } = await import('@mediabunny/aac-encoder');
  registerAacEncoder();
}

/** The codecs each output format would use here, if the browser can encode them. */
async function encodable(): Promise<Map<OutputChoice['id'], Codecs & { label: string }>> {
  // An audio check first, always: WebKitGTK 2.50 crashes the page when a
  // VideoEncoder is the first thing to start its GStreamer (an AudioEncoder check
  // before it avoids that). registerAacIfMissing asks about AAC.
  await aacReady.catch(() => {});
  const choices = new Map<OutputChoice['id'], Codecs & { label: string }>();
  const size = { width: 1280, height: 720 };
  const webmVideo = await getFirstEncodableVideoCodec(['vp9', 'vp8'], size);
  const webmAudio = await getFirstEncodableAudioCodec(['opus']);
  if (webmVideo && webmAudio) {
    choices.set('webm', { video: webmVideo, audio: webmAudio, label: `WebM (${webmVideo.toUpperCase()} + Opus)` });
  }
  const mp4Video = await getFirstEncodableVideoCodec(['avc'], size);
  const mp4Audio = await getFirstEncodableAudioCodec(['aac']);
  if (mp4Video && mp4Audio) choices.set('mp4', { video: mp4Video, audio: mp4Audio, label: 'MP4 (H.264 + AAC)' });
  return choices;
}

async function convert(request: Extract<ToWorker, { type: 'convert' }>): Promise<void> {
  cancelRequested = false;
  const codecs = (await encodable()).get(request.format);
  if (!codecs) throw new Error(`this browser cannot encode ${request.format.toUpperCase()}`);
  let input: File = request.file ?? (post({ type: 'stage', text: 'Making the built-in sample…' }), await makeSample());
  await ready;
  post({ type: 'stage', text: 'Converting…' });
  const started = performance.now();
  const onRegistered = (outcome: RegistrationOutcome) => post({ type: 'registered', registration: shown(outcome) });
  const converted = await trackConversion(async () => {
    const source = new Input({ source: new BlobSource(input), formats: ALL_FORMATS });
    const durationSeconds = await source.computeDuration();
    const format = request.format === 'webm' ? new WebMOutputFormat() : new Mp4OutputFormat();
    const output = new Output({ format, target: new BufferTarget() });
    const conversion = await Conversion.init({
      input: source,
      output,
      video: { codec: codecs.video, ...(request.height ? { height: request.height } : {}) },
      audio: { codec: codecs.audio },
      showWarnings: false,
    });
    if (!conversion.isValid) {
      const reasons = conversion.discardedTracks.map((t) => `${t.track.type} track: ${t.reason}`).join('; ');
      throw new Error(
        reasons
          ? `nothing in this file can be converted to ${request.format.toUpperCase()} (${reasons})`
          : 'no audio or video track could be read from this file: it may be damaged or incomplete',
      );
    }
    // A conversion that would silently drop the file's picture or sound (an engine
    // that cannot decode or encode it) is not what was asked for: it fails, saying why.
    const primary: unknown[] = [await source.getPrimaryVideoTrack(), await source.getPrimaryAudioTrack()];
    const lost = conversion.discardedTracks.filter((discarded) => primary.includes(discarded.track)
      && (discarded.reason === 'undecodable_source_codec' || discarded.reason === 'no_encodable_target_codec'));
    if (lost.length > 0) {
      throw new Error(`this browser cannot convert the file's ${lost.map((t) => `${t.track.type} (${t.reason.replaceAll('_', ' ')})`).join(' and ')}`);
    }
    conversion.onProgress = (value) => post({ type: 'progress', value });
    running = conversion;
    if (cancelRequested) await conversion.cancel();
    await conversion.execute();
    const buffer = output.target.buffer;
    if (!buffer) throw new Error('the output was not written');
    return { buffer, durationSeconds, mimeType: format.mimeType, extension: format.fileExtension };
  }, { endpoint: request.endpoint, licenseKey: request.licenseKey, onRegistered });
  const base = input.name.replace(/\.[^.]*$/, '') || 'converted';
  post({
    type: 'done',
    output: new Blob([converted.buffer], { type: converted.mimeType }),
    fileName: `${base}-converted${converted.extension}`,
    inputBytes: input.size,
    outputBytes: converted.buffer.byteLength,
    durationSeconds: converted.durationSeconds,
    elapsedMs: performance.now() - started,
  });
  input = new File([], ''); // let the input go
}

/** The outcome as plain data (an Error's own fields do not survive postMessage). */
function shown(outcome: RegistrationOutcome): Registration {
  return outcome.ok
    ? { ok: true, billable: outcome.billable, classification: outcome.classification, overLimit: outcome.overLimit ?? false, body: outcome.body }
    : { ok: false, message: outcome.error.message, body: outcome.body ?? null };
}

self.onmessage = async ({ data }: MessageEvent<ToWorker>) => {
  switch (data.type) {
    case 'formats': {
      const formats = [...(await encodable())].map(([id, { label }]) => ({ id, label }));
      post({ type: 'formats', formats });
      break;
    }
    case 'cancel':
      cancelRequested = true;
      await running?.cancel();
      break;
    case 'convert':
      try {
        await convert(data);
      } catch (error) {
        if (error instanceof Error && error.name === 'ConversionCanceledError') post({ type: 'cancelled' });
        else post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
      } finally {
        running = null;
      }
      break;
  }
};
