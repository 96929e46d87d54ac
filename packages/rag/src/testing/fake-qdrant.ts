/**
 * An in-memory stand-in for the part of Qdrant's REST API that `QdrantRetriever` uses, for tests
 * without a server. It records every call and follows Qdrant's documented semantics for what the
 * retriever relies on: filters (must / should / must_not, `match.value` and `match.any` on scalars
 * and arrays, `has_id`, nested filters), aliases, sparse dot products with the IDF modifier, cosine
 * for dense vectors and reciprocal rank fusion. It is not Qdrant: the contract suite runs against a
 * real server when QDRANT_URL is set.
 */

type Payload = Record<string, unknown>;
type Vectors = Record<string, number[] | { indices: number[]; values: number[] }>;
interface Point {
  id: string | number;
  vector: Vectors;
  payload: Payload;
}
interface Collection {
  config: { vectors: Record<string, { size: number }>; sparse: Record<string, { modifier?: string }> };
  points: Map<string | number, Point>;
  indexes: Record<string, unknown>;
}
// biome-ignore lint/suspicious/noExplicitAny: requests are checked by the retriever's own types
type Any = any;

export interface RecordedCall {
  method: string;
  args: unknown[];
}

export function matchesFilter(filter: Any, point: { id: string | number; payload: Payload }): boolean {
  if (!filter) return true;
  const list = (x: Any) => (x === undefined || x === null ? [] : Array.isArray(x) ? x : [x]);
  const must = list(filter.must);
  const should = list(filter.should);
  const mustNot = list(filter.must_not);
  if (!must.every((c: Any) => matchesCondition(c, point))) return false;
  if (should.length > 0 && !should.some((c: Any) => matchesCondition(c, point))) return false;
  return !mustNot.some((c: Any) => matchesCondition(c, point));
}

function matchesCondition(c: Any, point: { id: string | number; payload: Payload }): boolean {
  if ('must' in c || 'should' in c || 'must_not' in c) return matchesFilter(c, point);
  if ('has_id' in c) return c.has_id.includes(point.id);
  if ('key' in c && c.match) {
    const v = point.payload[c.key];
    const values = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
    if ('value' in c.match) return values.some((x) => x === c.match.value);
    if ('any' in c.match) return values.some((x) => c.match.any.includes(x));
    if ('except' in c.match) return values.length > 0 && values.every((x) => !c.match.except.includes(x));
  }
  throw new Error(`fake Qdrant: unsupported condition ${JSON.stringify(c)}`);
}

export class FakeQdrant {
  readonly calls: RecordedCall[] = [];
  readonly collections = new Map<string, Collection>();
  readonly aliases = new Map<string, string>();

  #record(method: string, args: unknown[]) {
    this.calls.push({ method, args: structuredClone(args) });
  }

  #resolve(name: string): Collection {
    const c = this.collections.get(this.aliases.get(name) ?? name);
    if (!c) throw new Error(`fake Qdrant: collection ${name} not found`);
    return c;
  }

  async collectionExists(name: string) {
    this.#record('collectionExists', [name]);
    return { exists: this.collections.has(name) };
  }

  async createCollection(name: string, cfg: Any) {
    this.#record('createCollection', [name, cfg]);
    if (this.collections.has(name)) throw new Error(`fake Qdrant: collection ${name} exists`);
    this.collections.set(name, {
      config: { vectors: cfg.vectors ?? {}, sparse: cfg.sparse_vectors ?? {} },
      points: new Map(),
      indexes: {},
    });
    return true;
  }

  async createPayloadIndex(name: string, args: Any) {
    this.#record('createPayloadIndex', [name, args]);
    this.#resolve(name).indexes[args.field_name] = args.field_schema;
    return { operation_id: 0, status: 'completed' };
  }

  async deleteCollection(name: string) {
    this.#record('deleteCollection', [name]);
    for (const [alias, target] of this.aliases) if (target === name) this.aliases.delete(alias);
    return this.collections.delete(name);
  }

  async getAliases() {
    this.#record('getAliases', []);
    return {
      aliases: [...this.aliases].map(([alias_name, collection_name]) => ({ alias_name, collection_name })),
    };
  }

  async updateCollectionAliases(args: Any) {
    this.#record('updateCollectionAliases', [args]);
    const next = new Map(this.aliases);
    for (const a of args.actions) {
      if (a.delete_alias) next.delete(a.delete_alias.alias_name);
      if (a.create_alias) {
        if (!this.collections.has(a.create_alias.collection_name))
          throw new Error('fake Qdrant: no such collection');
        next.set(a.create_alias.alias_name, a.create_alias.collection_name);
      }
    }
    this.aliases.clear();
    for (const [k, v] of next) this.aliases.set(k, v);
    return true;
  }

  async upsert(name: string, args: Any) {
    this.#record('upsert', [name, args]);
    const c = this.#resolve(name);
    for (const p of args.points) {
      for (const [vname, v] of Object.entries(p.vector as Vectors)) {
        if (Array.isArray(v) && v.length !== c.config.vectors[vname]?.size)
          throw new Error(`fake Qdrant: wrong dimension for ${vname}`);
        if (!Array.isArray(v) && !c.config.sparse[vname])
          throw new Error(`fake Qdrant: no sparse vector ${vname}`);
      }
      c.points.set(p.id, { id: p.id, vector: p.vector, payload: p.payload });
    }
    return { operation_id: 0, status: 'completed' };
  }

  async delete(name: string, args: Any) {
    this.#record('delete', [name, args]);
    const c = this.#resolve(name);
    for (const p of [...c.points.values()]) if (matchesFilter(args.filter, p)) c.points.delete(p.id);
    return { operation_id: 0, status: 'completed' };
  }

  async count(name: string, args: Any = {}) {
    this.#record('count', [name, args]);
    return {
      count: [...this.#resolve(name).points.values()].filter((p) => matchesFilter(args.filter, p)).length,
    };
  }

  async retrieve(name: string, args: Any) {
    this.#record('retrieve', [name, args]);
    const c = this.#resolve(name);
    return args.ids.flatMap((id: string) => {
      const p = c.points.get(id);
      return p ? [{ id, payload: p.payload }] : [];
    });
  }

  async scroll(name: string, args: Any = {}) {
    this.#record('scroll', [name, args]);
    const all = [...this.#resolve(name).points.values()]
      .filter((p) => matchesFilter(args.filter, p))
      .sort((a, b) => String(a.id).localeCompare(String(b.id)));
    const from = args.offset === undefined ? 0 : all.findIndex((p) => p.id === args.offset);
    const limit = args.limit ?? 10;
    const page = all.slice(from, from + limit);
    return {
      points: page.map((p) => ({ id: p.id, payload: p.payload })),
      next_page_offset: all[from + limit]?.id ?? null,
    };
  }

  async query(name: string, req: Any) {
    this.#record('query', [name, req]);
    const c = this.#resolve(name);
    const points = [...c.points.values()];
    const ranked = (sub: Any): { p: Point; score: number }[] => {
      const candidates = points.filter((p) => matchesFilter(sub.filter, p));
      const q = sub.query;
      let scored: { p: Point; score: number }[];
      if (Array.isArray(q)) {
        scored = candidates.map((p) => ({ p, score: cosine(q, p.vector[sub.using] as number[]) }));
      } else {
        const idf = c.config.sparse[sub.using]?.modifier === 'idf';
        const df = new Map<number, number>();
        if (idf)
          for (const p of points)
            for (const i of (p.vector[sub.using] as Any)?.indices ?? []) df.set(i, (df.get(i) ?? 0) + 1);
        scored = candidates
          .map((p) => {
            const v = p.vector[sub.using] as { indices: number[]; values: number[] } | undefined;
            let s = 0;
            q.indices.forEach((i: number, k: number) => {
              const at = v?.indices.indexOf(i) ?? -1;
              if (at < 0) return;
              const n = points.length;
              const w = idf ? Math.log((n - df.get(i)! + 0.5) / (df.get(i)! + 0.5) + 1) : 1;
              s += q.values[k] * v!.values[at]! * w;
            });
            return { p, score: s };
          })
          .filter((x) => x.score > 0);
      }
      return scored.sort((a, b) => b.score - a.score).slice(0, sub.limit ?? 10);
    };
    let result: { p: Point; score: number }[];
    if (req.prefetch) {
      if (req.query?.fusion !== 'rrf') throw new Error('fake Qdrant: only rrf fusion');
      const fused = new Map<string | number, { p: Point; score: number }>();
      for (const sub of req.prefetch) {
        ranked(sub).forEach(({ p }, position) => {
          const prev = fused.get(p.id) ?? { p, score: 0 };
          prev.score += rrfPositionScore(position);
          fused.set(p.id, prev);
        });
      }
      result = [...fused.values()]
        .filter(({ p }) => matchesFilter(req.filter, p))
        .sort((a, b) => b.score - a.score);
    } else {
      result = ranked(req);
    }
    return {
      points: result
        .slice(0, req.limit ?? 10)
        .map(({ p, score }) => ({ id: p.id, version: 0, score, payload: p.payload })),
    };
  }
}

/**
 * Qdrant's reciprocal rank fusion with its default k = 2 and weight 1: a point at 0-based
 * `position` of a prefetch adds 1 / (position + k) (lib/segment/src/common/reciprocal_rank_fusion.rs).
 */
function rrfPositionScore(position: number, k = 2): number {
  return 1 / (position + k);
}

function cosine(a: number[], b: number[] | undefined): number {
  if (!b) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    dot += x * b[i]!;
    na += x * x;
    nb += b[i]! * b[i]!;
  });
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}
