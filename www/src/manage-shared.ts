// What the management views (licences, webhooks, changes) share: the signed-in
// context, the card that shows a new secret once, the confirm dialog, and how a
// dialog's buttons run their work.
import { explain, type AdminApi } from './admin-api';
import { $ } from './dom';

/** What `Management` gives each view. */
export interface ManageContext {
  /** The signed-in admin API (a view is only loaded while signed in). */
  api(): AdminApi;
  /** Whether the token may make changes (a read-only one may not). */
  canChange(): boolean;
  /** Runs `work`, showing its error in words above the tab; `busy` is disabled meanwhile. */
  attempt(work: () => Promise<void>, busy?: HTMLButtonElement): Promise<boolean>;
  /** Hides the error line above the tab. */
  clearError(): void;
  secrets: SecretCard;
  confirm: ConfirmDialog;
}

/** The card that shows a new key pair or signing secret, once, with copy buttons. */
export class SecretCard {
  private readonly card = $<HTMLElement>('new-secret');

  constructor() {
    $('copy-public-key').addEventListener('click', () => void this.copy('new-public-key', 'public key'));
    $('copy-secret').addEventListener('click', () => void this.copy('new-secret-value', $('new-secret-label').textContent!.toLowerCase()));
    $('secret-saved').addEventListener('click', () => this.hide());
  }

  /** A licence's keys (with `publicKey`) or an endpoint's signing secret. */
  show(title: string, secret: string, publicKey?: string): void {
    $('new-secret-title').textContent = title;
    const isLicence = publicKey !== undefined;
    $('new-secret-label').textContent = isLicence ? 'Secret key' : 'Signing secret';
    $('new-secret-warning').textContent = isLicence
      ? 'Copy the secret key now: it is shown only this once. The server keeps only its hash and cannot show it again; '
        + 'if it is lost, rotate the keys. The public key goes into the licensee’s pages, the secret key only into their backend.'
      : 'Copy the signing secret now: it is shown only this once. The endpoint checks each message’s webhook-signature with it.';
    $('new-public-key-row').hidden = !isLicence;
    $<HTMLInputElement>('new-public-key').value = publicKey ?? '';
    $<HTMLInputElement>('new-secret-value').value = secret;
    $('copy-status').textContent = '';
    this.card.hidden = false;
    this.card.scrollIntoView({ block: 'nearest' });
  }

  /** Clears the keys from the page. */
  hide(): void {
    $<HTMLInputElement>('new-public-key').value = '';
    $<HTMLInputElement>('new-secret-value').value = '';
    this.card.hidden = true;
  }

  /** Copies a shown key; where the clipboard is not offered (plain http), selects it instead. */
  private async copy(testId: string, what: string): Promise<void> {
    const input = $<HTMLInputElement>(testId);
    const status = $('copy-status');
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = `Copied the ${what}.`;
    } catch {
      input.select();
      status.textContent = `This page cannot use the clipboard here: the ${what} is selected, press Ctrl+C (⌘C) to copy it.`;
    }
  }
}

export interface ConfirmOptions {
  title: string;
  text: string;
  ok: string;
  danger?: boolean;
  /** Offers the grace time of a key rotation. */
  grace?: boolean;
  /** Runs on OK with the dialog's form; the dialog closes only if it worked. */
  action: (form: HTMLFormElement) => Promise<void>;
}

/** The dialog that says what an action does before it is done. */
export class ConfirmDialog {
  private readonly dialog = $<HTMLDialogElement>('confirm-dialog');
  private action: ConfirmOptions['action'] | null = null;

  /** `beforeWork` runs as OK is pressed (the views clear their error line). */
  constructor(beforeWork: () => void) {
    const form = this.dialog.querySelector('form')!;
    form.addEventListener('submit', (event) =>
      runDialog(event as SubmitEvent, this.dialog, beforeWork, () => this.action!(form)));
  }

  open(options: ConfirmOptions): void {
    $('confirm-title').textContent = options.title;
    $('confirm-text').textContent = options.text;
    const ok = $<HTMLButtonElement>('confirm-ok');
    ok.textContent = options.ok;
    ok.className = options.danger ? 'danger' : '';
    $('grace-row').hidden = !options.grace;
    $<HTMLSelectElement>('rotate-grace').value = '86400';
    $('confirm-error').hidden = true;
    this.action = options.action;
    this.dialog.showModal();
  }
}

/**
 * A dialog form's submit: Cancel closes it; the other button runs `work`, closing
 * the dialog only if that worked, and otherwise says why inside it.
 */
export function runDialog(event: SubmitEvent, dialog: HTMLDialogElement, beforeWork: () => void, work: () => Promise<void>): void {
  event.preventDefault();
  const submitter = event.submitter as HTMLButtonElement | null;
  if (submitter?.value === 'cancel') {
    dialog.close();
    return;
  }
  const error = dialog.querySelector<HTMLElement>('.error')!;
  error.hidden = true;
  beforeWork();
  if (submitter) submitter.disabled = true;
  work()
    .then(() => dialog.close())
    .catch((failure: unknown) => {
      error.textContent = explain(failure);
      error.hidden = false;
    })
    .finally(() => {
      if (submitter) submitter.disabled = false;
    });
}
