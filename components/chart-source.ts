/**
 * Where the components take each Helm chart from: its upstream repository by
 * default, or what a `chart` argument names instead (a local chart, or a
 * mirror repository or OCI registry), so that clusters without internet access
 * install from their own copies.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChartSourceArgs } from './args';

/** A chart's upstream home: its name and the repository (`https://…`) or OCI path (`oci://…`) holding it. */
export interface UpstreamChart {
  name: string;
  repository: string;
}

/** What helm.v4.Chart and helm.v3.Release take to locate a chart. */
export interface ChartReference {
  chart: string;
  version?: string;
  repositoryOpts?: { repo: string };
}

const CHART_ARCHIVE = /\.(tgz|tar\.gz)$/;
const REPOSITORY_URL = /^(https?|oci):\/\/[^\s/]+(\/\S*)?$/;

/**
 * Checks a `chart` argument (untyped input: it may come from YAML or Python); the problem, worded
 * to follow the argument's name, or undefined when it is usable. `versionSet` says whether the
 * caller's `chartVersion` was given explicitly.
 */
export function chartSourceProblem(value: unknown, versionSet: boolean): string | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return `must be an object, \`{ path }\` (a local chart) or \`{ repository }\` (a mirror), got ${JSON.stringify(value)}`;
  }
  const { path: chartPath, repository, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `\`${k}\``).join(', ')}: use \`path\` or \`repository\``;
  if ((chartPath === undefined) === (repository === undefined)) {
    return 'must set exactly one of `path` (a local chart directory or .tgz) and `repository` (a mirror: https://… or oci://…)';
  }
  if (chartPath !== undefined) {
    if (typeof chartPath !== 'string' || chartPath === '') return `path must be a non-empty string, got ${JSON.stringify(chartPath)}`;
    const absolute = path.resolve(chartPath);
    const isChart = fs.existsSync(path.join(absolute, 'Chart.yaml')) || (CHART_ARCHIVE.test(absolute) && fs.statSync(absolute, { throwIfNoEntry: false })?.isFile());
    if (!isChart) return `path "${chartPath}" (${absolute}) is not a chart: give a directory holding Chart.yaml or a packaged .tgz`;
    if (versionSet) return 'path is a local chart, which installs the version its Chart.yaml gives: remove chartVersion';
    return undefined;
  }
  if (typeof repository !== 'string' || !REPOSITORY_URL.test(repository)) {
    return `repository must be a Helm repository (https://…) or an OCI registry path (oci://…), got ${JSON.stringify(repository)}`;
  }
  return undefined;
}

/** How to locate `upstream` at `version`, taken from `source` when given (checked with {@link chartSourceProblem}). */
export function chartReference(upstream: UpstreamChart, version: string, source?: ChartSourceArgs): ChartReference {
  if (source?.path !== undefined) return { chart: path.resolve(source.path) };
  const repository = (source?.repository ?? upstream.repository).replace(/\/+$/, '');
  // Helm takes an OCI chart as its full reference, and a repository chart as a name plus the repository.
  return repository.startsWith('oci://')
    ? { chart: `${repository}/${upstream.name}`, version }
    : { chart: upstream.name, version, repositoryOpts: { repo: repository } };
}
