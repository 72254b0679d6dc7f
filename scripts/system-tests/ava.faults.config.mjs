// The chaos suite: faults that touch the shared broker or database disturb every test beside
// them, so these files run alone, one at a time, after every other test (see the root `test`).
export default {
  files: ['test/faults/**/*.test.ts'],
  concurrency: 1,
  timeout: '180s',
  typescript: {
    rewritePaths: { 'src/': 'dist/src/', 'test/': 'dist/test/' },
    compile: false,
  },
};
