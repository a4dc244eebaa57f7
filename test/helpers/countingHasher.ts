import { PasswordHasher } from '../../app/accounts/passwordHasher.js';
import { TEST_ARGON2 } from './app.js';

/**
 * The real argon2 hasher, counting how many verifications actually ran: lets a test prove that an
 * unknown account costs a real verify (the timing equaliser) without measuring time.
 */
export class CountingHasher extends PasswordHasher {
  verifications = 0;

  constructor() {
    super(TEST_ARGON2);
  }

  override verify(...args: Parameters<PasswordHasher['verify']>): Promise<boolean> {
    this.verifications++;
    return super.verify(...args);
  }
}
