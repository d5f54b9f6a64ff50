// The Licences tab: create a licence (its keys shown once), change its name,
// limit and origins, rotate its keys with a grace time, revoke it.
import type { Licence } from './admin-api';
import { $, actions, button, fillTable, type Cell } from './dom';
import { count, dateTime } from './format';
import { runDialog, type ManageContext } from './manage-shared';

export class LicencesView {
  private editing: Licence | null = null;
  private readonly form = $<HTMLFormElement>('licence-create');
  private readonly table = $<HTMLTableElement>('licence-table');
  private readonly editDialog = $<HTMLDialogElement>('licence-dialog');

  /** `onLicencesChanged` redraws the usage report, whose licence table is then stale. */
  constructor(private readonly context: ManageContext, private readonly onLicencesChanged: () => void) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    $('licence-edit').addEventListener('submit', (event) =>
      runDialog(event as SubmitEvent, this.editDialog, () => context.clearError(), () => this.save()));
  }

  async load(): Promise<void> {
    const licences = await this.context.api().licences();
    const header = ['Licence', 'Public key', 'Monthly limit', 'Allowed origins', 'Status'];
    if (this.context.canChange()) header.push('');
    fillTable(this.table, header, licences.map((licence) => this.row(licence)), 'No licences yet.',
      licences.map((licence) => ({ licence: licence.name })));
  }

  private row(licence: Licence): Cell[] {
    const key = document.createElement('code');
    key.textContent = licence.publicKey;
    const cells: Cell[] = [
      licence.name,
      key,
      licence.monthlyLimit === null ? 'no limit' : count(licence.monthlyLimit),
      licence.allowedOrigins.length ? licence.allowedOrigins.join('\n') : 'any origin',
      licenceStatus(licence),
    ];
    if (this.context.canChange()) {
      cells.push(licence.revokedAtMs === null
        ? actions(
            button('Change', 'licence-change', () => this.openEdit(licence)),
            button('Rotate keys', 'licence-rotate', () => this.openRotate(licence)),
            button('Revoke', 'licence-revoke', () => this.openRevoke(licence), 'danger small'),
          )
        : []);
    }
    return cells;
  }

  /** The list and the usage report again, after a change. */
  private async changed(): Promise<void> {
    await this.load();
    this.onLicencesChanged();
  }

  private async create(): Promise<void> {
    await this.context.attempt(async () => {
      const created = await this.context.api().createLicence(licenceFields(this.form));
      this.form.reset();
      this.context.secrets.show(`Keys for ${created.license.name}`, created.secretKey, created.publicKey);
      await this.changed();
    }, $<HTMLButtonElement>('licence-create-submit'));
  }

  private openEdit(licence: Licence): void {
    this.editing = licence;
    $('licence-edit-title').textContent = `Change ${licence.name}`;
    $<HTMLInputElement>('edit-name').value = licence.name;
    $<HTMLInputElement>('edit-limit').value = licence.monthlyLimit === null ? '' : String(licence.monthlyLimit);
    $<HTMLTextAreaElement>('edit-origins').value = licence.allowedOrigins.join('\n');
    $('licence-edit-error').hidden = true;
    this.editDialog.showModal();
  }

  private async save(): Promise<void> {
    const licence = this.editing!;
    const fields = licenceFields($<HTMLFormElement>('licence-edit'));
    // Only what changed: a rename is checked for uniqueness, the rest replaced.
    const change: Partial<typeof fields> = {};
    if (fields.name !== licence.name) change.name = fields.name;
    if (fields.monthlyLimit !== licence.monthlyLimit) change.monthlyLimit = fields.monthlyLimit;
    if (fields.allowedOrigins.join('\n') !== licence.allowedOrigins.join('\n')) change.allowedOrigins = fields.allowedOrigins;
    if (Object.keys(change).length) await this.context.api().changeLicence(licence.id, change);
    await this.changed();
  }

  private openRotate(licence: Licence): void {
    this.context.confirm.open({
      title: `Rotate the keys of ${licence.name}`,
      text: 'A new public and secret key are made and shown once. The licensee puts them in their pages and backend; '
        + 'the current keys are refused once the time below has passed.',
      ok: 'Rotate keys',
      grace: true,
      action: async (form) => {
        const grace = Number((form.elements.namedItem('grace') as HTMLSelectElement).value);
        const rotated = await this.context.api().rotateLicence(licence.id, grace);
        this.context.secrets.show(`New keys for ${rotated.license.name}`, rotated.secretKey, rotated.publicKey);
        await this.changed();
      },
    });
  }

  private openRevoke(licence: Licence): void {
    this.context.confirm.open({
      title: `Revoke ${licence.name}?`,
      text: 'Every key of this licence is refused from now on, in pages and backends; its counts stay. '
        + 'A revoked licence cannot be changed or restored.',
      ok: 'Revoke licence',
      danger: true,
      action: async () => {
        await this.context.api().revokeLicence(licence.id);
        await this.changed();
      },
    });
  }
}

/** A licence form's fields: an empty limit is none, origins one per line. */
function licenceFields(form: HTMLFormElement): { name: string; monthlyLimit: number | null; allowedOrigins: string[] } {
  const data = new FormData(form);
  const limit = String(data.get('monthlyLimit') ?? '').trim();
  return {
    name: String(data.get('name') ?? '').trim(),
    monthlyLimit: limit === '' ? null : Number(limit),
    allowedOrigins: String(data.get('allowedOrigins') ?? '').split('\n').map((line) => line.trim()).filter(Boolean),
  };
}

function licenceStatus(licence: Licence): string {
  if (licence.revokedAtMs !== null) return `revoked ${dateTime(licence.revokedAtMs)}`;
  const previous = licence.keys.find((key) => key.expiresAtMs !== null);
  if (previous) return `active; the previous key works until ${dateTime(previous.expiresAtMs!)}`;
  return 'active';
}
