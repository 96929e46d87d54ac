import { LuaScript } from '@agent-fleet/core';

const lua = (file: string) => new LuaScript(new URL(`./lua/${file}`, import.meta.url));

export const scripts = {
  acceptTurn: lua('accept-turn-3.lua'),
  gateAcquire: lua('gate-acquire-2.lua'),
  gateRenew: lua('gate-renew-1.lua'),
  gateRelease: lua('gate-release-1.lua'),
  gateFinish: lua('gate-finish-3.lua'),
  gatePeek: lua('gate-peek-3.lua'),
  turnMark: lua('turn-mark-1.lua'),
} as const;
