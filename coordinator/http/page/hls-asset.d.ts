declare module 'hls.js/dist/hls.light.min.js' {
  const path: string;
  export default path;
}
