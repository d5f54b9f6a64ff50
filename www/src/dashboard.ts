// The usage dashboard: a licensee's breakdown (secret key) or the vendor's view of
// every licence (admin token), read with usage-telemetry's getUsageBreakdown.
import init, {
  getUsageBreakdown,
  type KindCounts,
  type OriginCounts,
  type UsageBreakdown,
  type UsageCounts,
  type UsageLimit,
  type UsageTelemetryError,
  type VendorUsage,
} from 'usage-telemetry';
import { StackedBars, type Columns } from './chart';
import { $, fillTable } from './dom';
import { count, day } from './format';
import { explain as explainManagement } from './admin-api';
import { Management } from './manage';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const STORAGE_KEY = 'usage-dashboard-credential';

const form = $<HTMLFormElement>('sign-in');
const secretInput = $<HTMLInputElement>('secret-key');
const adminInput = $<HTMLInputElement>('admin-token');
const rangeSelect = $<HTMLSelectElement>('range');
const loadButton = $<HTMLButtonElement>('load');
const csvButton = $<HTMLButtonElement>('csv');
const signOutButton = $<HTMLButtonElement>('sign-out');
const errorText = $<HTMLParagraphElement>('dashboard-error');
const report = $<HTMLElement>('report');
const reportTitle = $<HTMLParagraphElement>('report-title');
const bucketName = $<HTMLElement>('bucket-name');
const totalsTable = $<HTMLTableElement>('totals');
const limitCard = $<HTMLElement>('limit-card');
const limitBar = $<HTMLProgressElement>('limit');
const limitText = $<HTMLParagraphElement>('limit-text');
const licensesCard = $<HTMLElement>('licenses-card');
const licensesTable = $<HTMLTableElement>('licenses');
const unlicensedCard = $<HTMLElement>('unlicensed-card');
const unlicensedTable = $<HTMLTableElement>('unlicensed-origins');
const originsTable = $<HTMLTableElement>('origins');
const chart = new StackedBars($<HTMLElement>('chart'));
// A licence created, changed or revoked there shows in the report's licence table.
const management = new Management(() => void loadReport(credential()).catch(() => undefined));

const ready = init();
let lastQuery: { since?: number; granularity: 'day' | 'hour' } | null = null;

// A credential typed earlier in this tab (never in the URL, never in localStorage).
const remembered = sessionStorage.getItem(STORAGE_KEY);
if (remembered?.startsWith('rm_adm_')) adminInput.value = remembered;
else if (remembered) secretInput.value = remembered;
if (remembered) void load();

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void load();
});
rangeSelect.addEventListener('change', () => {
  if (lastQuery) void load();
});
csvButton.addEventListener('click', () => void downloadCsv());
signOutButton.addEventListener('click', () => {
  sessionStorage.removeItem(STORAGE_KEY);
  secretInput.value = adminInput.value = '';
  report.hidden = true;
  csvButton.disabled = true;
  lastQuery = null;
  management.signOut();
});

function credential(): string {
  return adminInput.value.trim() || secretInput.value.trim();
}

/**
 * The range the select names, in whole buckets (the chart's first bar is a whole
 * day or hour, and the server answers repeated ranges from memory); no `since`
 * means the start of this month (UTC).
 */
function query(): { since?: number; granularity: 'day' | 'hour' } {
  const now = Date.now();
  switch (rangeSelect.value) {
    case '24h':
      // This hour and the 23 before it.
      return { since: Math.floor(now / HOUR_MS) * HOUR_MS - 23 * HOUR_MS, granularity: 'hour' };
    case 'month':
      return { granularity: 'day' };
    default: {
      // Today and the days before it: inside the server's 90-day window.
      const days = Number(rangeSelect.value);
      return { since: Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS, granularity: 'day' };
    }
  }
}

async function load(): Promise<void> {
  const key = credential();
  if (!key) {
    showError('Enter a secret key (rm_sec_…) or an admin token (rm_adm_…).');
    return;
  }
  errorText.hidden = true;
  loadButton.disabled = true;
  loadButton.textContent = 'Loading…';
  try {
    await loadReport(key);
    sessionStorage.setItem(STORAGE_KEY, key);
  } catch (error) {
    management.signOut();
    showError(explain(error as UsageTelemetryError));
    return;
  } finally {
    loadButton.disabled = false;
    loadButton.textContent = 'Load';
  }
  if (key.startsWith('rm_adm_')) {
    // The management views: their own errors show in their own words.
    await management.signIn(key).catch((error: unknown) => showError(explainManagement(error)));
  } else {
    management.signOut();
  }
}

/** Reads the report for the chosen range with `key` and draws it. */
async function loadReport(key: string): Promise<void> {
  await ready;
  const range = query();
  const answer = await getUsageBreakdown({
    apiKey: key,
    endpoint: location.origin,
    ...range,
    // The person typed their own key into their own dashboard, served by the usage server itself.
    dangerouslyAllowBrowser: true,
    retry: { retries: 1, baseDelayMs: 300, timeoutMs: 10_000 },
  });
  lastQuery = range;
  show(answer);
}

function explain(error: UsageTelemetryError): string {
  if (error.code === 'network' || error.code === 'timeout') {
    return `The usage server at ${location.origin} cannot be reached right now. Is it running? (${error.message})`;
  }
  if (error.status === 401) return `That key is not accepted: ${error.message.replace(/^the usage server answered 401: /, '')}.`;
  if (error.status === 403) return `That key cannot open this view: ${error.message.replace(/^the usage server answered 403: /, '')}.`;
  return error.message;
}

function showError(message: string): void {
  errorText.textContent = message;
  errorText.hidden = false;
}

function show(answer: UsageBreakdown | VendorUsage): void {
  report.hidden = false;
  csvButton.disabled = false;
  const hourly = answer.granularity === 'hour';
  bucketName.textContent = hourly ? 'hour' : 'day';
  const vendor = 'licenses' in answer;
  reportTitle.textContent = `${vendor ? 'Every licence' : 'Your licence'}, ${day(answer.since)} to ${day(answer.until)} (UTC).`;
  const columns: Columns = { starts: [], billable: [], development: [], failed: [] };
  for (const bucket of answer.series) {
    const counts = browserAndCloud(bucket);
    columns.starts.push(bucket.start);
    columns.billable.push(counts.billable);
    columns.development.push(counts.development);
    columns.failed.push(counts.failed);
  }
  chart.show(columns, hourly);
  const totals = vendor ? sumSeries(answer.series) : answer.totals;
  showTotals(totals, answer.since);
  if (vendor) {
    limitCard.hidden = true;
    showLicenses(answer);
    showUnlicensed(answer);
    fillTable(originsTable, ['Origin', 'Licence', 'Billable', 'Development', 'Failed'],
      answer.origins.map((o) => [o.origin ?? '(no origin)', o.license ?? 'none', ...countCells(o)]));
  } else {
    licensesCard.hidden = unlicensedCard.hidden = true;
    showLimit(answer.limit);
    const rows = answer.origins.map((o: OriginCounts) => [o.origin ?? '(no origin)', ...countCells(o)]);
    if (total(answer.otherOrigins) > 0) rows.push(['(all other origins)', ...countCells(answer.otherOrigins)]);
    if (total(answer.foldedOrigins) > 0) rows.push([FOLDED, ...countCells(answer.foldedOrigins)]);
    for (const o of answer.notAllowedOrigins) rows.push([`${o.origin ?? '(no origin)'} ${NOT_ALLOWED}`, ...countCells(o)]);
    fillTable(originsTable, ['Origin', 'Billable', 'Development', 'Failed'], rows);
  }
}

/** Browser conversions and cloud renders together (`webRenders` repeats the first). */
function browserAndCloud(counts: KindCounts): UsageCounts {
  const a = counts.webcodecConversions;
  const b = counts.cloudRenders;
  return { billable: a.billable + b.billable, development: a.development + b.development, failed: a.failed + b.failed };
}

function sumSeries(series: KindCounts[]): KindCounts {
  const zero = (): UsageCounts => ({ billable: 0, development: 0, failed: 0 });
  const total: KindCounts = { webcodecConversions: zero(), cloudRenders: zero(), webRenders: zero() };
  for (const bucket of series) {
    for (const kind of ['webcodecConversions', 'cloudRenders', 'webRenders'] as const) {
      for (const cls of ['billable', 'development', 'failed'] as const) total[kind][cls] += bucket[kind][cls];
    }
  }
  return total;
}

function showTotals(totals: KindCounts, since: number): void {
  totalsTable.dataset.since = String(since);
  fillTable(totalsTable, ['', 'Billable', 'Development', 'Failed'], [
    ['Browser conversions', ...countCells(totals.webcodecConversions)],
    ['Cloud renders', ...countCells(totals.cloudRenders)],
  ], undefined, [{ kind: 'webcodecConversions' }, { kind: 'cloudRenders' }]);
}

function showLimit(limit: UsageLimit | undefined): void {
  limitCard.hidden = !limit;
  if (!limit) return;
  limitBar.max = Math.max(1, limit.monthlyBillable);
  limitBar.value = Math.min(limit.used, limitBar.max);
  limitBar.classList.toggle('over', limit.used > limit.monthlyBillable);
  const over = limit.used > limit.monthlyBillable ? ` — ${count(limit.used - limit.monthlyBillable)} over the limit` : '';
  limitText.textContent = `${count(limit.used)} of ${count(limit.monthlyBillable)} billable events this month (${day(limit.periodStart)} to ${day(limit.periodEnd - 1)}), ${count(limit.remaining)} left${over}.`;
}

function showLicenses(view: VendorUsage): void {
  licensesCard.hidden = false;
  fillTable(licensesTable, ['Licence', 'Public key', 'Billable', 'Development', 'Failed', 'This month / limit'],
    view.licenses.map((licence) => [
      licence.revoked ? `${licence.name} (revoked)` : licence.name,
      `${licence.publicKey.slice(0, 14)}…`,
      ...countCells(browserAndCloud(licence.totals)),
      licence.limit ? `${count(licence.limit.used)} / ${count(licence.limit.monthlyBillable)}` : 'no limit',
    ]));
}

/** How the tables name events counted without their origin, and a key's use where it is not allowed. */
const FOLDED = '(other origins: over the daily cap on new origins)';
const NOT_ALLOWED = '(key not allowed here: not billed)';

function total(counts: UsageCounts): number {
  return counts.billable + counts.development + counts.failed;
}

/** Sites using the product without paying for it: no licence, the free licence, or a copied key. */
function showUnlicensed(view: VendorUsage): void {
  unlicensedCard.hidden = false;
  const rows = [
    ...view.unlicensed.origins.map((o) => [o.origin ?? '(no origin)', 'none', ...countCells(o)]),
    ...view.freeLicense.origins.map((o) => [o.origin ?? '(no origin)', 'free-license', ...countCells(o)]),
    ...view.licenses.flatMap((licence) =>
      licence.notAllowedOrigins.map((o) => [o.origin ?? '(no origin)', `${licence.name} ${NOT_ALLOWED}`, ...countCells(o)])),
  ];
  for (const [name, bucket] of [['none', view.unlicensed], ['free-license', view.freeLicense]] as const) {
    if (total(bucket.foldedOrigins) > 0) rows.push([FOLDED, name, ...countCells(bucket.foldedOrigins)]);
  }
  fillTable(unlicensedTable, ['Origin', 'Licence', 'Billable', 'Development', 'Failed'], rows,
    'No events without a licence in this range.');
}

function countCells(counts: UsageCounts): string[] {
  return [count(counts.billable), count(counts.development), count(counts.failed)];
}

/** Fetches the CSV export with the credential in a header, then saves it. */
async function downloadCsv(): Promise<void> {
  const key = credential();
  const range = lastQuery ?? query();
  const params = new URLSearchParams({ granularity: range.granularity });
  if (range.since !== undefined) params.set('since', String(range.since));
  const path = key.startsWith('rm_adm_') ? '/api/admin/export.csv' : '/api/usage/export.csv';
  try {
    const response = await fetch(`${path}?${params}`, { headers: { Authorization: `Bearer ${key}` } });
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as { error?: string } | null;
      throw new Error(body?.error ?? `the server answered ${response.status}`);
    }
    const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'usage.csv';
    const url = URL.createObjectURL(await response.blob());
    const link = Object.assign(document.createElement('a'), { href: url, download: name });
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    showError(`The CSV could not be downloaded: ${(error as Error).message}`);
  }
}
