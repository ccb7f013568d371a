declare module '*.proto' {
  const path: string;
  export default path;
}
