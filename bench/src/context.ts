import type { Row, TimingOptions } from "./measure.js";

/** Corpus sizes of a run; `--quick` shrinks every one of them. */
export interface Sizes {
  /** Files of the standard corpus (StateBackend, LocalBackend, CompositeBackend). */
  standard: number;
  /** Files of the large corpus (PostgresBackend grep). */
  large: number;
  /** Objects of the S3 grep. */
  s3: number;
  /** Objects of the S3 grep through the latency proxy, one pair of rows per size. */
  s3Latency: number[];
  /** Keys of the S3 listing memory measure (a synthetic listing server), one row per size. */
  s3Keys: number[];
  /** Files of the Docker write+read. */
  docker: number;
  /** Megabytes of the memory corpus. */
  memoryMb: number;
  /** Files `deepfs cp` copies from disk into S3 and PostgreSQL. */
  cp: number;
}

/** What every benchmark group receives. */
export interface BenchContext {
  quick: boolean;
  timing: TimingOptions;
  seed: number;
  sizes: Sizes;
  /** Service variables from the harness (DEEPFS_PG_URL, DEEPFS_S3_*, DOCKER_HOST, DEEPFS_*_UNAVAILABLE). */
  env: Record<string, string>;
  /** A scratch directory, removed at the end. */
  tmpDir: string;
  log(line: string): void;
}

/** One group of measures (a backend and its peer). */
export interface BenchGroup {
  name: string;
  run(ctx: BenchContext): Promise<Row[]>;
}
