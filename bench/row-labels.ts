// Row labels that both a benchmark writes and the report text reads back, named once.

export const acceptBestRow = 'best of each';
export const e2ePeakRow = 'peak (smtp-source, 20 sessions)';
export const e2ePacedRow = 'half the peak rate (paced)';
export const e2eMailbridgeRow = 'mailbridge: gateway A, gateway B, Redis';
export const e2ePostfixChainRow = 'Postfix A -> Postfix B -> Maildir';
export const e2eRatioRow = 'mailbridge / Postfix';
export const largeMessageRow = '50 MB message, DKIM-signed, to smtp-sink';
export const idleConnectionsRow = '2,000 idle connections';
export const pmtpUnbatchedRow = 'unbatched (notice concurrency 1)';
export const pmtpBatchedRow = 'batched (notice concurrency 500)';
