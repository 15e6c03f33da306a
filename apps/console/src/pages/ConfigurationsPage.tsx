export default function ConfigurationsPage() { return null; }
