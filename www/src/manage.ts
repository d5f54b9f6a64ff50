// The vendor's management views of the dashboard, as tabs beside the usage
// report: licences, webhook endpoints and their deliveries, the audit log (each
// in its own module). A read-only token sees all of it and is offered no change:
// the server would refuse each one (403) anyway.
import { AdminApi, explain } from './admin-api';
import { AuditView } from './audit-view';
import { $ } from './dom';
import { LicencesView } from './licences-view';
import { ConfirmDialog, SecretCard, type ManageContext } from './manage-shared';
import { WebhooksView } from './webhooks-view';

/** The dashboard's views; `usage` is the report the dashboard draws. */
export type View = 'usage' | 'licences' | 'webhooks' | 'changes';

export class Management {
  private api: AdminApi | null = null;
  private canChange = false;

  private readonly main = document.querySelector('main')!;
  private readonly tabs = $<HTMLElement>('tabs');
  private readonly tokenKind = $<HTMLElement>('token-kind');
  private readonly readOnlyNotice = $<HTMLElement>('read-only-notice');
  private readonly errorText = $<HTMLElement>('manage-error');
  private readonly secrets = new SecretCard();
  private readonly licences: LicencesView;
  private readonly webhooks: WebhooksView;
  private readonly audit: AuditView;

  /** `onLicencesChanged` redraws the usage report, whose licence table is then stale. */
  constructor(onLicencesChanged: () => void) {
    const context: ManageContext = {
      api: () => this.api!,
      canChange: () => this.canChange,
      attempt: (work, busy) => this.attempt(work, busy),
      clearError: () => { this.errorText.hidden = true; },
      secrets: this.secrets,
      confirm: new ConfirmDialog(() => { this.errorText.hidden = true; }),
    };
    this.licences = new LicencesView(context, onLicencesChanged);
    this.webhooks = new WebhooksView(context);
    this.audit = new AuditView(context);
    for (const tab of this.tabs.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
      tab.addEventListener('click', () => this.select(tab.dataset.tab as View));
    }
  }

  /** Signed in with an admin token: the tabs, and changes only if the token may make them. */
  async signIn(token: string): Promise<void> {
    const api = new AdminApi(token);
    const who = await api.whoAmI();
    this.api = api;
    this.canChange = !who.readOnly;
    this.tokenKind.textContent = `${who.name} (${who.readOnly ? 'read-only' : 'full'} token)`;
    this.readOnlyNotice.hidden = this.canChange;
    for (const form of document.querySelectorAll<HTMLElement>('[data-change]')) form.hidden = !this.canChange;
    this.tabs.hidden = false;
    const view = (this.main.dataset.view ?? 'usage') as View;
    if (view !== 'usage') await this.load(view);
  }

  /** Signed out, or signed in with a licence's secret key: the usage report only. */
  signOut(): void {
    this.api = null;
    this.tabs.hidden = true;
    this.readOnlyNotice.hidden = true;
    this.errorText.hidden = true;
    this.secrets.hide();
    this.webhooks.closeDeliveries();
    this.select('usage');
  }

  private select(view: View): void {
    this.main.dataset.view = view;
    for (const tab of this.tabs.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
      tab.setAttribute('aria-selected', String(tab.dataset.tab === view));
    }
    this.errorText.hidden = true;
    if (view !== 'webhooks') this.webhooks.closeDeliveries();
    if (view !== 'usage' && this.api) void this.load(view);
  }

  private async load(view: View): Promise<void> {
    await this.attempt(async () => {
      if (view === 'licences') await this.licences.load();
      if (view === 'webhooks') await this.webhooks.load();
      if (view === 'changes') await this.audit.load();
    });
  }

  /** Runs `work`, showing its error in words instead of throwing. */
  private async attempt(work: () => Promise<void>, busy?: HTMLButtonElement): Promise<boolean> {
    this.errorText.hidden = true;
    if (busy) busy.disabled = true;
    try {
      await work();
      return true;
    } catch (error) {
      this.errorText.textContent = explain(error);
      this.errorText.hidden = false;
      return false;
    } finally {
      if (busy) busy.disabled = false;
    }
  }
}
