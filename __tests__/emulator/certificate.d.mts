export function generateCertificate(): Promise<{ private: string; cert: string }>
