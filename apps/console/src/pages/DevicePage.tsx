export default function DevicePage() { return null; }
