/** `node --import <this>` registers ts-hooks.mjs so a child process can run the TypeScript sources. Test support only. */
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
