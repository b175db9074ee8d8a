import { test } from 'uvu'; test('x', () => {}); test.run();
