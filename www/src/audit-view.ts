// The Changes tab: the audit log, newest first, 50 entries at a time.
import { $, fillTable } from './dom';
import { dateTime } from './format';
import type { ManageContext } from './manage-shared';

export class AuditView {
  private before: number | undefined;
  private readonly table = $<HTMLTableElement>('audit-table');
  private readonly older = $<HTMLButtonElement>('audit-older');

  constructor(private readonly context: ManageContext) {
    this.older.addEventListener('click', () => void context.attempt(() => this.load(true)));
  }

  /** The newest entries, or (`older`) the next ones after those shown. */
  async load(older = false): Promise<void> {
    const page = await this.context.api().audit(older ? this.before : undefined);
    const rows = page.entries.map((entry) => [
      dateTime(entry.atMs),
      entry.actor,
      entry.action,
      entry.subject,
      Object.entries(entry.details).map(([name, value]) => `${name}: ${detail(name, value)}`).join('; '),
    ]);
    if (older) {
      const more = document.createElement('table');
      fillTable(more, [], rows);
      this.table.tBodies[0]!.append(...more.tBodies[0]!.rows);
    } else {
      fillTable(this.table, ['When', 'Who', 'What', 'Licence, token or endpoint', 'Details'], rows, 'No changes yet.');
    }
    this.before = page.nextBefore;
    this.older.hidden = page.nextBefore === undefined;
  }
}

/** An audit detail in words: a time (`…At`, `…AtMs`) as a date, anything else as JSON. */
function detail(name: string, value: unknown): string {
  return /At(Ms)?$/.test(name) && typeof value === 'number' ? dateTime(value) : JSON.stringify(value);
}
