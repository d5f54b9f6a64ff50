// The built-in sample: a few seconds of canvas animation with a tone, encoded with
// Mediabunny, so the demo works with no file at hand.
import {
  AudioSample,
  AudioSampleSource,
  BufferTarget,
  CanvasSource,
  Output,
  QUALITY_MEDIUM,
  WebMOutputFormat,
  getFirstEncodableAudioCodec,
  getFirstEncodableVideoCodec,
} from 'mediabunny';

const WIDTH = 640;
const HEIGHT = 360;
const FPS = 30;
const SAMPLE_RATE = 48_000;

/** Encodes `seconds` of animation and a 440 Hz tone as a WebM file. */
export async function makeSample(seconds = 4): Promise<File> {
  const videoCodec = await getFirstEncodableVideoCodec(['vp9', 'vp8'], { width: WIDTH, height: HEIGHT });
  const audioCodec = await getFirstEncodableAudioCodec(['opus']);
  if (!videoCodec || !audioCodec) throw new Error('this browser cannot encode WebM (VP8/VP9 + Opus), so it cannot make the sample');
  const canvas = new OffscreenCanvas(WIDTH, HEIGHT);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2D canvas in this browser');
  const output = new Output({ format: new WebMOutputFormat(), target: new BufferTarget() });
  const video = new CanvasSource(canvas, { codec: videoCodec, bitrate: QUALITY_MEDIUM });
  const audio = new AudioSampleSource({ codec: audioCodec, bitrate: QUALITY_MEDIUM });
  output.addVideoTrack(video, { frameRate: FPS });
  output.addAudioTrack(audio);
  await output.start();

  for (let frame = 0; frame < seconds * FPS; frame++) {
    drawFrame(context, frame / FPS, seconds);
    await video.add(frame / FPS, 1 / FPS);
  }
  const chunk = SAMPLE_RATE / 2;
  for (let start = 0; start < seconds * SAMPLE_RATE; start += chunk) {
    const data = new Float32Array(chunk);
    for (let i = 0; i < chunk; i++) data[i] = 0.2 * Math.sin((2 * Math.PI * 440 * (start + i)) / SAMPLE_RATE);
    const sample = new AudioSample({ data, format: 'f32-planar', numberOfChannels: 1, sampleRate: SAMPLE_RATE, timestamp: start / SAMPLE_RATE });
    await audio.add(sample);
    sample.close();
  }
  await output.finalize();
  const buffer = output.target.buffer;
  if (!buffer) throw new Error('the sample was not written');
  return new File([buffer], 'sample.webm', { type: 'video/webm' });
}

function drawFrame(context: OffscreenCanvasRenderingContext2D, time: number, seconds: number): void {
  const hue = (time / seconds) * 360;
  context.fillStyle = `hsl(${hue}, 60%, 20%)`;
  context.fillRect(0, 0, WIDTH, HEIGHT);
  const x = WIDTH / 2 + Math.cos(time * 2) * 200;
  const y = HEIGHT / 2 + Math.sin(time * 3) * 100;
  context.fillStyle = `hsl(${(hue + 180) % 360}, 80%, 60%)`;
  context.beginPath();
  context.arc(x, y, 40, 0, 2 * Math.PI);
  context.fill();
  context.fillStyle = 'white';
  context.font = 'bold 32px sans-serif';
  context.fillText(`usage-telemetry sample  ${time.toFixed(2)} s`, 24, HEIGHT - 28);
}
