import { z } from 'zod';
import { invalidEmail, invalidName, type UserError } from '../errors';

export const MAX_EMAIL_LENGTH = 254;
export const MAX_NAME_LENGTH = 100;

const emailSyntax = z.email();
// Bidi embeddings, overrides and isolates let a name display as something else.
const SPOOFING_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/u;
const CONTROL_CHARACTERS = /\p{Cc}/u;

export interface NewUserInput {
  readonly name: string;
  readonly email: string;
}

type Validated = { readonly ok: true; readonly value: NewUserInput } | { readonly ok: false; readonly errors: UserError[] };

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
  return errors.length ? { ok: false, errors } : { ok: true, value: { name, email } };
};
