// The converter page: picks the input and output, runs the conversion in a Worker,
// shows progress, the result and how the conversion was counted.
import { $ } from './dom';
import { bytes, seconds } from './format';
import type { FromWorker, Registration, ToWorker } from './messages';

const sampleChoice = $<HTMLInputElement>('sample');
const fileChoice = document.querySelector<HTMLInputElement>('#use-file')!;
const fileInput = $<HTMLInputElement>('file');
const formatSelect = $<HTMLSelectElement>('output-format');
const resizeSelect = $<HTMLSelectElement>('resize');
const keyInput = $<HTMLInputElement>('license-key');
const convertButton = $<HTMLButtonElement>('convert');
const cancelButton = $<HTMLButtonElement>('cancel');
const stage = $<HTMLParagraphElement>('stage');
const progress = $<HTMLProgressElement>('progress');
const conversionError = $<HTMLParagraphElement>('conversion-error');
const result = $<HTMLElement>('result');
const preview = $<HTMLVideoElement>('preview');
const stats = $<HTMLDListElement>('stats');
const download = $<HTMLAnchorElement>('download');
const telemetry = $<HTMLElement>('telemetry');
const classification = $<HTMLParagraphElement>('classification');
const endpointLabel = $<HTMLElement>('endpoint');
const requestBody = $<HTMLPreElement>('request-body');

const worker = new Worker(new URL('./convert.worker.ts', import.meta.url), { type: 'module' });
const send = (message: ToWorker) => worker.postMessage(message);
let outputUrl: string | null = null;

worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
  switch (data.type) {
    case 'formats':
      formatSelect.replaceChildren(...data.formats.map(({ id, label }) => new Option(label, id)));
      formatSelect.disabled = data.formats.length === 0;
      convertButton.disabled = data.formats.length === 0;
      if (data.formats.length === 0) {
        showError(
          isSecureContext
            ? 'This browser cannot encode WebM or MP4 with WebCodecs.'
            : 'WebCodecs needs a secure page: open this demo over https, or on localhost.',
        );
      }
      break;
    case 'stage':
      stage.textContent = data.text;
      break;
    case 'progress':
      progress.value = data.value;
      stage.textContent = `Converting… ${Math.round(data.value * 100)} %`;
      break;
    case 'done':
      finish(`Done in ${seconds(data.elapsedMs / 1000)}.`);
      showResult(data);
      break;
    case 'cancelled':
      finish('Cancelled. Nothing was counted.');
      break;
    case 'error':
      finish('The conversion failed.');
      showError(data.message);
      break;
    case 'registered':
      showRegistration(data.registration);
      break;
  }
};
worker.onerror = (event) => showError(`The conversion worker stopped: ${event.message}`);
send({ type: 'formats' });

// The demo's public key, if demo.sh (or a test) put one beside the pages.
fetch('/demo-config.json')
  .then((response) => (response.ok ? response.json() : null))
  .then((config: { publicKey?: string } | null) => {
    if (config?.publicKey && !keyInput.value) keyInput.value = config.publicKey;
  })
  .catch(() => {});

fileInput.addEventListener('change', () => {
  if (fileInput.files?.length) fileChoice.checked = true;
});

convertButton.addEventListener('click', () => {
  const file = fileChoice.checked ? fileInput.files?.[0] ?? null : null;
  if (fileChoice.checked && !file) {
    showError('Pick a file first, or use the built-in sample.');
    return;
  }
  conversionError.hidden = true;
  result.hidden = true;
  telemetry.hidden = true;
  progress.hidden = false;
  progress.value = 0;
  convertButton.disabled = true;
  cancelButton.disabled = false;
  sampleChoice.disabled = fileChoice.disabled = true;
  stage.textContent = 'Starting…';
  send({
    type: 'convert',
    file,
    format: formatSelect.value as 'webm' | 'mp4',
    height: resizeSelect.value ? Number(resizeSelect.value) : null,
    endpoint: location.origin,
    licenseKey: keyInput.value.trim() || null,
  });
});

cancelButton.addEventListener('click', () => {
  cancelButton.disabled = true;
  stage.textContent = 'Cancelling…';
  send({ type: 'cancel' });
});

function finish(text: string): void {
  stage.textContent = text;
  progress.hidden = true;
  convertButton.disabled = false;
  cancelButton.disabled = true;
  sampleChoice.disabled = fileChoice.disabled = false;
}

function showError(message: string): void {
  conversionError.textContent = message;
  conversionError.hidden = false;
}

function showResult(done: Extract<FromWorker, { type: 'done' }>): void {
  if (outputUrl) URL.revokeObjectURL(outputUrl);
  outputUrl = URL.createObjectURL(done.output);
  preview.src = outputUrl;
  download.href = outputUrl;
  download.download = done.fileName;
  download.textContent = `Download ${done.fileName}`;
  const rows: [string, string][] = [
    ['Input', bytes(done.inputBytes)],
    ['Output', bytes(done.outputBytes)],
    ['Duration', seconds(done.durationSeconds)],
    ['Time taken', seconds(done.elapsedMs / 1000)],
    ['Speed', `${(done.durationSeconds / (done.elapsedMs / 1000)).toFixed(1)}× real time`],
  ];
  stats.replaceChildren(...rows.flatMap(([term, value]) => [element('dt', term), element('dd', value)]));
  result.hidden = false;
}

/** How the conversion was counted, in words, and the exact body that was sent. */
function showRegistration(registration: Registration): void {
  telemetry.hidden = false;
  endpointLabel.textContent = `${location.origin}/api/track/register-usage-point`;
  requestBody.textContent = registration.body ? JSON.stringify(JSON.parse(registration.body), null, 2) : '(nothing was sent)';
  if (!registration.ok) {
    classification.textContent = `Not registered: ${registration.message}. The conversion itself is unaffected.`;
    return;
  }
  const host = location.hostname;
  const sent = registration.body ? (JSON.parse(registration.body) as { apiKey: string | null }) : { apiKey: null };
  const licence = sent.apiKey === null ? ' (no licence key: counted as unlicensed usage)' : '';
  const why = {
    billable: `${host} is a production origin, so the conversion is billed`,
    development: `${host} is a local host and is not billed`,
    failed: 'a conversion that fails is never billed',
  }[registration.classification];
  classification.textContent = `${registration.classification} — ${why}${licence}.`;
  if (registration.overLimit) classification.textContent += ' This licence is over its monthly limit.';
  classification.dataset.classification = registration.classification;
}

function element(tag: string, text: string): HTMLElement {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}
