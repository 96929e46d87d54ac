import { LuaScript } from '@agent-fleet/core';

const lua = (file: string) => new LuaScript(new URL(`./lua/${file}`, import.meta.url));

export const scripts = {
  acceptTurn: lua('accept-turn-13.lua'),
  turnBegin: lua('turn-begin-7.lua'),
  turnCommit: lua('turn-commit-9.lua'),
  gateRenew: lua('gate-renew-2.lua'),
  gatePeek: lua('gate-peek-3.lua'),
  checkpointSave: lua('checkpoint-save-1.lua'),
  historyFold: lua('history-fold-2.lua'),
  historyRebuild: lua('history-rebuild-3.lua'),
  pendingUsersForget: lua('pending-users-forget-1.lua'),
  lockRelease: lua('lock-release-1.lua'),
  quotaCheck: lua('quota-check-5.lua'),
  quotaHold: lua('quota-hold-5.lua'),
  quotaSettle: lua('quota-settle-6.lua'),
  quotaRelease: lua('quota-release-2.lua'),
  fairTag: lua('fair-tag-1.lua'),
  fairStart: lua('fair-start-1.lua'),
  fairCorrect: lua('fair-correct-1.lua'),
  fairRebase: lua('fair-rebase-1.lua'),
} as const;
