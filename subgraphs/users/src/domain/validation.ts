import { z } from 'zod';
import { invalidEmail, invalidIdempotencyKey, invalidName, type UserError } from '../errors';

export const MAX_EMAIL_LENGTH = 254;
export const MAX_NAME_LENGTH = 100;
/** As Stripe's: long enough for a UUID with a prefix, short enough to index. */
export const MIN_IDEMPOTENCY_KEY_LENGTH = 16;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]+$/;

const emailSyntax = z.email();
// Bidi embeddings, overrides and isolates let a name display as something else.
const SPOOFING_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/u;
const CONTROL_CHARACTERS = /\p{Cc}/u;

export interface NewUserInput {
  readonly name: string;
  readonly email: string;
  /** The client's key for this sign-up: a retry with the same key gets the same answer. */
  readonly idempotencyKey?: string | null | undefined;
}

export interface ValidNewUser {
  readonly name: string;
  readonly email: string;
  readonly idempotencyKey?: string;
}

type Validated = { readonly ok: true; readonly value: ValidNewUser } | { readonly ok: false; readonly errors: UserError[] };

/** The key that makes emails unique regardless of case. */
export const emailKey = (email: string): string => email.toLowerCase();

/** Trims and checks a sign-up; reports every problem at once. */
export const validateNewUser = (input: NewUserInput): Validated => {
  const errors: UserError[] = [];
  const name = input.name.trim().normalize('NFC');
  const email = input.email.trim();
  const nameLength = [...name].length;
  if (nameLength === 0) {
    errors.push(invalidName('Name must not be empty.'));
  } else if (nameLength > MAX_NAME_LENGTH) {
    errors.push(invalidName(`Name must be at most ${MAX_NAME_LENGTH} characters.`));
  } else if (CONTROL_CHARACTERS.test(name) || SPOOFING_CONTROLS.test(name)) {
    errors.push(invalidName('Name must not contain control characters (line breaks, tabs, NUL, bidirectional overrides).'));
  }
  if (email.length > MAX_EMAIL_LENGTH) {
    errors.push(invalidEmail(`Email must be at most ${MAX_EMAIL_LENGTH} characters.`));
  } else if (!emailSyntax.safeParse(email).success) {
    errors.push(invalidEmail('Email is not a valid address (expected name@domain.tld).'));
  }
  const key = input.idempotencyKey ?? undefined;
  if (key !== undefined && (key.length < MIN_IDEMPOTENCY_KEY_LENGTH || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !IDEMPOTENCY_KEY.test(key))) {
    errors.push(
      invalidIdempotencyKey(
        `Idempotency key must be ${MIN_IDEMPOTENCY_KEY_LENGTH} to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces (a UUID will do).`,
      ),
    );
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: key === undefined ? { name, email } : { name, email, idempotencyKey: key } };
};
