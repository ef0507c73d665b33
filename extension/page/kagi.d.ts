// Types for kagi.js, the Kagi page library.

/** Stable error codes: the native host's codes plus the extension's own. */
export type KagiErrorCode =
  | "TOKEN_ABSENT" | "NO_READER" | "PCSC_UNAVAILABLE"
  | "PIN_INCORRECT" | "PIN_BLOCKED" | "PIN_FORMAT"
  | "CARD_REMOVED" | "NOT_PIV" | "NO_CERTIFICATE" | "CERT_MISMATCH"
  | "ORIGIN_NOT_ALLOWED" | "NO_ENROLLMENT" | "UNKNOWN_COMMAND" | "BAD_REQUEST"
  | "HOST_NOT_INSTALLED" | "INTERNAL"
  // set by the extension / this library
  | "EXTENSION_NOT_INSTALLED" | "CANCELLED" | "TIMEOUT" | "BUSY";

export declare class KagiError extends Error {
  readonly name: "KagiError";
  readonly code: KagiErrorCode | string;
  /** PIN tries left, with PIN_INCORRECT. */
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
  guid: string | null;
  pinRetries: number | null;
  certificate: CertSummary | null;
}

export interface Status {
  host: "ok" | "HOST_NOT_INSTALLED" | "PCSC_UNAVAILABLE";
  readers: { name: string; tokenPresent: boolean }[];
  token: TokenSummary | null;
}

export interface TokenChange {
  type: "inserted" | "removed";
  reader: string;
  /** null on "removed", or when the inserted card could not be read as a PIV token */
  token: TokenSummary | null;
}

/** The kagi-auth:1 login token the bank verifies (all binary fields standard base64). */
export interface LoginToken {
  format: "kagi-auth:1";
  certificate: string;
  algorithm: "ES256" | "RS256";
  signature: string;
}

/** Steps of an acquisition, in order. */
export type AcquireStep = "confirm" | "pin" | "generate" | "issue" | "store" | "done";

export interface AcquireOptions {
  algorithm?: "P-256" | "RSA-2048";
  /** Sends the CSR (standard base64 DER) to the bank's CA; resolves with the certificate (standard base64 DER). */
  submitCsr: (csrBase64: string) => Promise<string>;
  onProgress?: (p: { step: AcquireStep }) => void;
}

export interface ConnectOptions {
  /** How long to wait for the extension to answer (default 3000 ms). */
  timeoutMs?: number;
  /** Backstop per call while no user input is awaited (default 30000 ms). */
  requestTimeoutMs?: number;
}

export declare class Kagi {
  static connect(opts?: ConnectOptions): Promise<Kagi>;
  readonly extensionVersion: string;
  status(): Promise<Status>;
  onTokenChange(cb: (ev: TokenChange) => void): () => void;
  authenticate(nonce: string): Promise<LoginToken>;
  acquireCertificate(opts: AcquireOptions): Promise<{ certificate: CertSummary }>;
  close(): void;
}

export default Kagi;
