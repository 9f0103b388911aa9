export { startCephRgw, cephRgwMissing, CEPH_RGW_APT_PACKAGES, type CephRgw, type CephRgwOptions, type S3Endpoint } from './ceph-rgw.js';
export { startAzurite, AZURITE_ACCOUNT_NAME, AZURITE_ACCOUNT_KEY, type AzuriteServer, type StartAzuriteOptions } from './azurite.js';
export { startGcsTestServer, type GcsTestServer, type GcsFault, type GcsRequestInfo, type StartGcsTestServerOptions } from './gcs-server/server.js';
export { StallingServer, type PartialAnswer, type StallAction, type StalledRequest } from './stalling-server.js';
export { s3Env, gcsEnv, azureEnv, CLOUDS, type Cloud } from './standard-env.js';
