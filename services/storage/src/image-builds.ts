import { ProblemError, type Logger } from '@cps/common';
import type { StorageSchemas } from '@cps/openapi';
import type { BuildDeps, BuildResult, ImageRecipe } from './image-build.ts';

export type ImageBuildState = StorageSchemas['ImageBuild'];

/** Kept per build so a client polling late still sees how it went; older lines are dropped. */
const maxLines = 200;

export interface ImageBuildsDeps {
  recipes: ReadonlyMap<string, ImageRecipe>;
  build: (recipe: ImageRecipe, d: BuildDeps) => Promise<BuildResult>;
  deps: Omit<BuildDeps, 'progress'>;
  log: Logger;
}

/**
 * The builds this storage runs: at most one per recipe at a time (a second request while one runs
 * gets the running one), each with its progress lines, so the API can start a build and a client
 * poll it instead of holding one HTTP request open for minutes.
 */
export class ImageBuilds {
  private readonly builds = new Map<string, ImageBuildState>();

  constructor(private readonly d: ImageBuildsDeps) {}

  /** Starts a build of `recipeId` unless one is running; returns its state and whether this call started it. */
  start(recipeId: string): { started: boolean; build: ImageBuildState } {
    const recipe = this.d.recipes.get(recipeId);
    if (!recipe) throw new ProblemError('not-found', `no image recipe ${JSON.stringify(recipeId.slice(0, 80))} (known: ${[...this.d.recipes.keys()].join(', ')})`);
    const running = this.builds.get(recipeId);
    if (running?.state === 'running') return { started: false, build: snapshot(running) };
    const b: ImageBuildState = { recipe: recipeId, state: 'running', startedAt: this.d.deps.now().toISOString(), lines: [] };
    this.builds.set(recipeId, b);
    const progress = (line: string) => {
      b.lines.push(line);
      if (b.lines.length > maxLines) b.lines.splice(0, b.lines.length - maxLines);
      this.d.log.info({ recipe: recipeId, line }, 'image build');
    };
    this.d.build(recipe, { ...this.d.deps, progress }).then(
      (r) => {
        Object.assign(b, { state: 'succeeded', cached: r.cached, inputHash: r.inputHash, finishedAt: this.d.deps.now().toISOString() });
      },
      (err: unknown) => {
        const detail = err instanceof Error ? err.message : String(err);
        Object.assign(b, { state: 'failed', error: detail.slice(0, 4000), finishedAt: this.d.deps.now().toISOString() });
        this.d.log.warn({ recipe: recipeId, err: detail.slice(0, 4000) }, 'image build failed');
      },
    );
    return { started: true, build: snapshot(b) };
  }

  /** The latest build of `recipeId` since storage started, or not-found. */
  get(recipeId: string): ImageBuildState {
    const b = this.builds.get(recipeId);
    if (!b) throw new ProblemError('not-found', `no build of ${JSON.stringify(recipeId.slice(0, 80))} since storage started`);
    return snapshot(b);
  }

  /** The recipes this storage can build. */
  recipes(): string[] {
    return [...this.d.recipes.keys()];
  }
}

const snapshot = (b: ImageBuildState): ImageBuildState => ({ ...b, lines: [...b.lines] });
