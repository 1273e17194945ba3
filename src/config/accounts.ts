/** A storage/Batch account: the same name and key serve the Blob and the Batch service. */
export interface Account {
  name: string;
  /** The key as users paste it: base64 text. */
  keyBase64: string;
  /** The decoded key bytes used for HMAC. */
  key: Buffer;
}

/** The emulator account every Azure tool knows (the key Azurite publishes). */
export const DEV_ACCOUNT_NAME = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function makeAccount(name: string, keyBase64: string): Account {
  if (!ACCOUNT_NAME.test(name)) {
    throw new Error(`account name "${name}" must be 3-24 lower-case letters and digits`);
  }
  if (!BASE64.test(keyBase64) || keyBase64.length % 4 !== 0) {
    throw new Error(`the key of account "${name}" is not base64`);
  }
  return { name, keyBase64, key: Buffer.from(keyBase64, 'base64') };
}

/** Parses `NAME:BASE64KEY`; the key itself may contain ':'-free base64 only, so split at the first colon. */
export function parseAccountSpec(spec: string): Account {
  const colon = spec.indexOf(':');
  if (colon <= 0) throw new Error(`account "${spec}" must be written NAME:BASE64KEY`);
  return makeAccount(spec.slice(0, colon), spec.slice(colon + 1));
}

export const devAccount = (): Account => makeAccount(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY);

/** The warning for a key given as a command-line argument, which every local user can read. */
export function keyInArgvWarning(account: string, instead: string): string {
  return `warning: the key of account ${account} is on the command line, where every local user can read it (/proc/PID/cmdline, ps); give it in ${instead}`;
}

/** The accounts a server knows, looked up by name. */
export class AccountRegistry {
  private readonly byName = new Map<string, Account>();

  constructor(accounts: Account[]) {
    for (const account of accounts) {
      if (this.byName.has(account.name)) throw new Error(`account "${account.name}" is given twice`);
      this.byName.set(account.name, account);
    }
  }

  get(name: string): Account | undefined {
    return this.byName.get(name);
  }

  all(): Account[] {
    return [...this.byName.values()];
  }
}
