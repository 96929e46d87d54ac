/** The sections of `fleet top`, top to bottom. */
export const SECTIONS = ['queues', 'workers', 'llm', 'turns', 'tenants'] as const;
export type Section = (typeof SECTIONS)[number];

/** What the operator chose: the section keys act on, each section's sort, a filter, pause. */
export interface TopState {
  focus: Section;
  sort: Record<Section, { column: number; desc: boolean }>;
  /** Rows whose name (queue, worker, server, turn/user/stage, tenant) contains it; '' shows all. */
  filter: string;
  /** The filter being typed after `/`, until Enter or Esc; null when not typing. */
  editing: string | null;
  paused: boolean;
}

/** The columns each section may sort on, by index into its table; the first is the default. */
export const SORT_COLUMNS: Record<Section, number[]> = {
  queues: [1, 6, 0],
  workers: [1, 0, 3],
  llm: [1, 5, 6, 0],
  turns: [6, 4, 3, 0],
  tenants: [1, 0],
};

export function initialState(): TopState {
  const sort = Object.fromEntries(
    SECTIONS.map((s) => [s, { column: SORT_COLUMNS[s][0]!, desc: true }]),
  ) as TopState['sort'];
  return { focus: 'turns', sort, filter: '', editing: null, paused: false };
}

/** A key as Node's readline `keypress` event describes it. */
export interface Key {
  name?: string;
  sequence?: string;
  ctrl?: boolean;
  shift?: boolean;
}

/**
 * What a key does: `tab`/shift-tab move the focus between sections, `s` sorts the focused section
 * by its next column, `r` reverses it, `/` starts a filter (Enter keeps it, Esc clears it), `p`
 * pauses, `q` or Ctrl-C quits. Pure, so the keys are tested without a terminal.
 */
export function onKey(state: TopState, key: Key): { state: TopState; quit?: boolean } {
  if (key.ctrl && key.name === 'c') return { state, quit: true };
  if (state.editing !== null) return { state: editFilter(state, key) };
  const at = SECTIONS.indexOf(state.focus);
  switch (key.name ?? key.sequence) {
    case 'q':
      return { state, quit: true };
    case 'tab': {
      const next = (at + (key.shift ? SECTIONS.length - 1 : 1)) % SECTIONS.length;
      return { state: { ...state, focus: SECTIONS[next]! } };
    }
    case 's': {
      const columns = SORT_COLUMNS[state.focus];
      const current = columns.indexOf(state.sort[state.focus].column);
      const column = columns[(current + 1) % columns.length]!;
      return { state: { ...state, sort: { ...state.sort, [state.focus]: { column, desc: column !== 0 } } } };
    }
    case 'r': {
      const s = state.sort[state.focus];
      return { state: { ...state, sort: { ...state.sort, [state.focus]: { ...s, desc: !s.desc } } } };
    }
    case '/':
      return { state: { ...state, editing: state.filter } };
    case 'escape':
      return { state: { ...state, filter: '' } };
    case 'p':
      return { state: { ...state, paused: !state.paused } };
    default:
      return { state };
  }
}

function editFilter(state: TopState, key: Key): TopState {
  const text = state.editing ?? '';
  if (key.name === 'return' || key.name === 'enter') return { ...state, filter: text, editing: null };
  if (key.name === 'escape') return { ...state, filter: '', editing: null };
  if (key.name === 'backspace') return { ...state, editing: text.slice(0, -1) };
  const ch = key.sequence ?? '';
  return ch.length === 1 && ch >= ' ' ? { ...state, editing: text + ch } : state;
}
