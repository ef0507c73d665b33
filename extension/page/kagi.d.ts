// Types for kagi.js, the Kagi page library (npm package @kagi/kagi-js).

/** This library's version. */
export declare const VERSION: string;

/**
 * Stable error codes: every code of the wire protocol (kagi_proto::ErrorCode; a test checks this
 * union against it) plus those the extension and this library set themselves.
 */
export type KagiErrorCode =
  | "TOKEN_ABSENT" | "NO_READER" | "PCSC_UNAVAILABLE"
  | "PIN_INCORRECT" | "PIN_BLOCKED" | "PIN_FORMAT"
  | "CARD_REMOVED" | "NOT_PIV" | "NO_CERTIFICATE" | "CERT_MISMATCH"
  | "ORIGIN_NOT_ALLOWED" | "NO_ENROLLMENT" | "UNKNOWN_COMMAND" | "BAD_REQUEST"
  | "HOST_NOT_INSTALLED" | "INTERNAL"
  // protocol 2 (the PIN window handles most of them; a page sees them when the customer gives up)
  | "PUK_INCORRECT" | "PUK_BLOCKED" | "PIN_WEAK" | "PIN_CHANGE_REQUIRED"
  | "TOKEN_FULL" | "MANAGEMENT_KEY_UNKNOWN" | "CHOICE_REQUIRED"
  // transaction confirmation: the tx was refused before any window or PIN prompt
  | "TX_INVALID"
  // the machine's host policy cannot be used: the administrator must fix it
  | "POLICY_INVALID"
  // set by the extension / this library
  | "EXTENSION_NOT_INSTALLED" | "CANCELLED" | "TIMEOUT" | "BUSY";

/** Language of the messages this library writes itself. */
export type Lang = "ja" | "en";

export declare class KagiError extends Error {
  readonly name: "KagiError";
  readonly code: KagiErrorCode | string;
  /** PIN tries left with PIN_INCORRECT, PUK tries left with PUK_INCORRECT. */
  readonly retries?: number;
}

export interface Subject {
  country: string | null;
  organization: string | null;
  organizationalUnits: string[];
  commonName: string | null;
}

export interface CertSummary {
  /** PIV slot, hex: "9A" or "82".."95". */
  slot: string;
  subject: Subject;
  issuer: Subject;
  /** lowercase hex */
  serial: string;
  /** RFC 3339, UTC */
  notBefore: string;
  /** RFC 3339, UTC */
  notAfter: string;
  keyAlgorithm: string;
  /** SHA-256 of the DER certificate, lowercase hex */
  sha256: string;
}

export interface TokenSummary {
  reader: string;
  /** CHUID card UUID, lowercase hex */
  guid: string | null;
  /** PIN tries left (null: unknown, or the PIN is verified in the current card session) */
  pinRetries: number | null;
  /** PUK tries left, when the token says */
  pukRetries: number | null;
  /** whether the PIN is still the factory 123456, when the token says */
  pinDefault: boolean | null;
  /** "factory": the first acquisition sets the token up; "unknown": Kagi cannot write to it */
  managementKey: "factory" | "pinProtected" | "unknown";
  /** the bank's login certificate on this token; always null without `issuers` */
  certificate: CertSummary | null;
}

/** A list of the bank's CA certificates: standard base64 DER or PEM strings (1 to 8), or one. */
export type Issuers = string | string[];

export interface Status {
  host: "ok" | "HOST_NOT_INSTALLED" | "PCSC_UNAVAILABLE";
  readers: { name: string; tokenPresent: boolean }[];
  /** every PIV token, in reader order */
  tokens: TokenSummary[];
  /**
   * The token the page most likely means: the one holding the bank's certificate if exactly one
   * does, else the first token; null without tokens.
   */
  token: TokenSummary | null;
  /** The native host's version (absent when the host is not installed). */
  hostVersion?: string;
  /** What a support desk asks: this library's, the extension's and the host's versions. */
  versions: { library: string; extension: string | null; host: string | null };
}

/** Presence only: call status() for details. */
export interface TokenChange {
  type: "inserted" | "removed";
  reader: string;
}

/** The kagi-auth:1 login token the bank verifies (all binary fields standard base64). */
export interface LoginToken {
  format: "kagi-auth:1";
  certificate: string;
  algorithm: "ES256" | "RS256";
  signature: string;
}

/**
 * A densai request as the bank renders it for confirmation (kagi-tx:1): a flat object, keys the
 * kind's field names, values strings (docs/protocol.md "Transaction confirmation").
 */
export interface Transaction {
  kind: "densai.transfer/1" | "densai.issue.debtor/1";
  requestId: string;
  requestVersion: string;
  recordNumber: string;
  amountYen: string;
  recordDate: string;
  dueDate: string;
  transferRestricted: "0" | "1";
  guarantee: "0" | "1";
  newCounterparty: "0" | "1";
  /** `payer.userNo`, `payer.name`, …, `counterparty.accountNo`. */
  [partyField: `payer.${string}` | `counterparty.${string}`]: string;
}

/** What confirmTransaction resolves with; the bank verifies it against its own record. */
export interface TxSignature {
  format: "kagi-tx:1";
  certificate: string;
  algorithm: "ES256" | "RS256";
  signature: string;
  /** SHA-256 (hex) of the body Kagi encoded: for the bank's log, never trusted. */
  bodySha256: string;
}

/** Steps of an acquisition, in order. */
export type AcquireStep = "choose" | "confirm" | "pin" | "unblock" | "generate" | "issue" | "store" | "done";

/** Steps of a log-on, reported as progress while the PIN window is open. */
export type LoginStep = "choose" | "pin" | "unblock" | "sign";

/**
 * A token's statement that it generated the CSR's key (YubiKey PIV attestation), standard base64
 * DER: the attestation certificate and the certificate of the token's attestation key (slot F9).
 * Both or neither.
 */
export interface KeyAttestation {
  attestation?: string;
  attestationIntermediate?: string;
}

export interface AcquireOptions {
  /** The bank's CA certificates; default: those given to Kagi.connect(). */
  issuers?: Issuers;
  algorithm?: "P-256" | "RSA-2048";
  /**
   * Sends the CSR (standard base64 DER) to the bank's CA; resolves with the certificate (standard
   * base64 DER). `attestation`: the token's key attestation when it has one, else `{}`.
   */
  submitCsr: (csrBase64: string, attestation: KeyAttestation) => Promise<string>;
  onProgress?: (p: { step: AcquireStep }) => void;
}

export interface ConnectOptions {
  /** The bank's CA certificates, used by every call that does not name its own. */
  issuers?: Issuers;
  /** How long to wait for the extension to answer (default 3000 ms). */
  timeoutMs?: number;
  /** Backstop per call while no user input is awaited (default 30000 ms). */
  requestTimeoutMs?: number;
  /**
   * Language of the messages of the errors this library raises itself (EXTENSION_NOT_INSTALLED,
   * TIMEOUT, CANCELLED); default: English when the page's `<html lang>` is English, else Japanese.
   * Anything but "ja" or "en" rejects with BAD_REQUEST. Kagi's own windows follow the browser.
   */
  lang?: Lang;
}

export declare class Kagi {
  static connect(opts?: ConnectOptions): Promise<Kagi>;
  readonly extensionVersion: string;
  readonly lang: Lang;
  /** Without issuers (here or at connect) the tokens carry no certificate. */
  status(opts?: { issuers?: Issuers }): Promise<Status>;
  onTokenChange(cb: (ev: TokenChange) => void): () => void;
  /** Rejects with BAD_REQUEST when no issuers are known. */
  authenticate(nonce: string, opts?: { issuers?: Issuers }): Promise<LoginToken>;
  /**
   * The customer confirms `tx` in Kagi's window and the token signs it. TX_INVALID (no window)
   * for a tx Kagi refuses; extensions without the confirmation window answer BAD_REQUEST.
   */
  confirmTransaction(opts: { nonce: string; tx: Transaction; issuers?: Issuers }): Promise<TxSignature>;
  /** Rejects with BAD_REQUEST when no issuers are known. */
  acquireCertificate(opts: AcquireOptions): Promise<{ certificate: CertSummary }>;
  close(): void;
}

export default Kagi;
