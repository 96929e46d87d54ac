import { DockerfileParser, type Env } from 'dockerfile-ast';

/** One instruction of a Dockerfile stage: its flags (`--from=x`) apart from its arguments. */
export interface DockerInstruction {
  keyword: string;
  flags: Record<string, string>;
  args: string;
}

type WithFlags = { getFlags?(): { getName(): string; getValue(): string | null }[] };

/** A stage: its name (`AS name`), its base image and its instructions. */
export interface DockerStage {
  name: string | undefined;
  base: string;
  instructions: DockerInstruction[];
  env: Record<string, string>;
}

/** Stages of a Dockerfile, with each stage's ENV merged in order (parsed by dockerfile-ast). */
export function dockerStages(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = (instruction.getRawArgumentsContent() ?? '').replace(/\\\r?\n\s*/g, ' ').trim();
    if (keyword === 'FROM') {
      const from = instruction as unknown as {
        getBuildStage(): string | null;
        getImageName(): string | null;
      };
      stages.push({
        name: from.getBuildStage() ?? undefined,
        base: args.split(/\s+/)[0]!,
        instructions: [],
        env: {},
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) continue;
    const flags = Object.fromEntries(
      ((instruction as WithFlags).getFlags?.() ?? []).map((f) => [f.getName(), f.getValue() ?? '']),
    );
    stage.instructions.push({ keyword, flags, args });
    if (keyword === 'ENV') {
      for (const p of (instruction as Env).getProperties()) stage.env[p.getName()] = p.getValue() ?? '';
    }
  }
  return stages;
}

/** An image target as the fleet's Dockerfile builds it. */
export interface DockerTarget {
  name: string;
  /** The workspace package install-deployable.sh selects in its files stage. */
  workspacePackage: string;
  env: Record<string, string>;
  user: string | undefined;
  /** ENTRYPOINT then CMD, exec form. */
  command: string[];
  /** The HEALTHCHECK's shell command, or `NONE`. */
  healthcheck: string | 'NONE' | undefined;
}

const execForm = (args: string | undefined) => (args ? (JSON.parse(args) as string[]) : []);
const last = (stage: DockerStage, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;

/**
 * A stage as its image is: built `FROM` an earlier stage, it starts from that stage's instructions
 * and ENV (and so on up), then applies its own.
 */
function withAncestors(stage: DockerStage, earlier: DockerStage[]): DockerStage {
  const parentAt = earlier.findLastIndex((s) => s.name === stage.base);
  if (parentAt < 0) return stage;
  const parent = withAncestors(earlier[parentAt]!, earlier.slice(0, parentAt));
  return {
    ...stage,
    instructions: [...parent.instructions, ...stage.instructions],
    env: { ...parent.env, ...stage.env },
  };
}

/**
 * The targets that run a deployable: stages that copy `/out` from a `<name>-files` stage, whose
 * RUN calls install-deployable.sh with the package, each with what it inherits from the stages it
 * is built from (ENV, USER, HEALTHCHECK, CMD). Fails on a target without its files stage.
 */
export function dockerTargets(text: string): DockerTarget[] {
  const raw = dockerStages(text);
  const stages = raw.map((stage, i) => withAncestors(stage, raw.slice(0, i)));
  return stages.flatMap((stage, i) => {
    const copy = raw[i]!.instructions.find((c) => c.keyword === 'COPY' && c.flags.from?.endsWith('-files'));
    if (!copy || !stage.name) return [];
    const filesName = copy.flags.from;
    const files = raw.find((s) => s.name === filesName);
    const run = files?.instructions.find(
      (i) => i.keyword === 'RUN' && i.args.includes('install-deployable.sh'),
    );
    const pkg = run && /install-deployable\.sh\s+(\S+)/.exec(run.args)?.[1];
    if (!pkg) throw new Error(`target ${stage.name}: stage ${filesName} does not run install-deployable.sh`);
    const health = last(stage, 'HEALTHCHECK');
    return [
      {
        name: stage.name,
        workspacePackage: pkg,
        env: stage.env,
        user: last(stage, 'USER'),
        command: [...execForm(last(stage, 'ENTRYPOINT')), ...execForm(last(stage, 'CMD'))],
        healthcheck: health === 'NONE' ? 'NONE' : health?.replace(/^.*?\bCMD\s+/, ''),
      },
    ];
  });
}
