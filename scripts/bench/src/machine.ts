import { connect } from 'amqplib';
import os from 'node:os';
import { Client } from 'pg';

/** What the numbers were measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgresql: string;
  rabbitmq: string;
  /** 1-minute load average when the bench started: another job's load shows here. */
  loadAverageAtStart: number;
}

export async function describeMachine(postgresUrl: string, amqpUrl: string): Promise<MachineInfo> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgresql: await postgresVersion(postgresUrl).catch(() => 'unknown'),
    rabbitmq: await rabbitmqVersion(amqpUrl).catch(() => 'unknown'),
    loadAverageAtStart: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

async function postgresVersion(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

async function rabbitmqVersion(url: string): Promise<string> {
  const model = await connect(url);
  try {
    const version: unknown = model.connection.serverProperties.version;
    return typeof version === 'string' ? version : 'unknown';
  } finally {
    await model.close();
  }
}
