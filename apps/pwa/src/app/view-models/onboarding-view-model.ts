/**
 * The view model of the screens before the messenger: registration (the keys are generated in the browser by the
 * core; optionally with a password), logging in by username and password, linking this browser to an existing account
 * ("I already have an account": the link URI for the QR code, a device name made fit for the core), unlocking a
 * passphrase-protected vault, and the welcome steps' permission requests. What happens once the
 * account or the platform is there (attaching the messenger, showing the list) is the app shell's, called back.
 */
import type { Platform } from '@cove/client';
import type { AppSession } from '../app-session.js';
import { deviceNameOrNone } from '../link-uri.js';
import type {
  AppState,
  LinkResult,
  LoginResult,
  OnboardingScreen,
  PermissionRequests,
  RegisterResult,
  HistoryProgressView,
} from '../model.js';

/** What the shell does for onboarding: create or link the account, and enter an unlocked profile. */
export interface OnboardingActions {
  register(username: string, inviteCode: string | null, password: string | null): Promise<RegisterResult>;
  login(username: string, password: string): Promise<LoginResult>;
  link(options: {
    deviceName: () => string | undefined;
    onUri: (uri: string) => void;
    signal: AbortSignal;
    onHistoryProgress?: (progress: HistoryProgressView) => void;
  }): Promise<LinkResult>;
  enter(platform: Platform): Promise<void>;
  /** The invite code of the link the app was opened with (already removed from the address), if any. */
  readonly inviteFromLink: string | null;
}

export class OnboardingViewModel implements OnboardingScreen {
  constructor(
    private readonly session: AppSession,
    private readonly permissions: PermissionRequests,
    private readonly actions: OnboardingActions,
  ) {}

  get inviteFromLink(): string | null {
    return this.actions.inviteFromLink;
  }

  register(username: string, inviteCode: string | null, password: string | null = null): Promise<RegisterResult> {
    return this.actions.register(username, inviteCode, password);
  }

  login(username: string, password: string): Promise<LoginResult> {
    return this.actions.login(username, password);
  }

  link(options: {
    deviceName: () => string;
    onUri: (uri: string) => void;
    signal: AbortSignal;
    onHistoryProgress?: (progress: HistoryProgressView) => void;
  }): Promise<LinkResult> {
    return this.actions.link({
      // Read when the account arrives, cleaned so that a stray character cannot fail the registration at the end.
      deviceName: () => deviceNameOrNone(options.deviceName()),
      onUri: options.onUri,
      signal: options.signal,
      ...(options.onHistoryProgress ? { onHistoryProgress: options.onHistoryProgress } : {}),
    });
  }

  suggestedDeviceName(): string {
    return this.session.platform.capabilities.deviceLabel();
  }

  async unlock(passphrase: string): Promise<boolean> {
    const vault = this.session.vault();
    if (!vault) return false;
    try {
      const platform = await vault.unlock(passphrase);
      if (platform === 'wrong-passphrase') return false;
      await this.actions.enter(platform);
      return true;
    } catch (error) {
      // eslint-disable-next-line no-console -- the only diagnostics sink in a page; the name carries no user data
      console.error('[cove:app] unlock failed', error instanceof Error ? error.name : typeof error);
      this.session.store.set({ phase: { kind: 'failed' } });
      return true;
    }
  }

  requestPersistence(): Promise<boolean> {
    return this.permissions.requestPersistence();
  }

  enableNotifications(): Promise<AppState['notifications']> {
    return this.permissions.enableNotifications();
  }
}
