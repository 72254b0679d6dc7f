export { REPO_ROOT, ServiceProcess } from './service-process';
export type { LogLine, ServiceName } from './service-process';
export { startSystem, waitUntilHealthy } from './system';
export type { RunningSystem } from './system';
export { maskVolatile, readWalkthrough } from './readme-walkthrough';
export type { WalkthroughStep } from './readme-walkthrough';
