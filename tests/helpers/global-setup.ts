import { execFileSync } from 'node:child_process';
import { ROOT } from './paths';

/**
 * The npm scripts the process tests run serve the build in dist/, and every
 * gateway outside production serves the offline GraphiQL from it: build both
 * once from the sources under test.
 */
export default function globalSetup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  execFileSync('npm', ['run', '--silent', 'build:graphiql'], { cwd: ROOT, stdio: 'inherit' });
}
