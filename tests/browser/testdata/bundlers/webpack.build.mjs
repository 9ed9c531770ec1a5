// Builds main.js with webpack's defaults: only where to start and where to
// write; nothing about the WebAssembly module.
import webpack from 'webpack';

const outDir = process.argv[2];
webpack({ mode: 'production', entry: './main.js', output: { path: outDir, filename: 'main.js' } }, (err, stats) => {
  if (err || stats.hasErrors()) {
    console.error(err ?? stats.toString({ colors: false, all: false, errors: true }));
    process.exit(1);
  }
  console.log(stats.toString({ colors: false, all: false, assets: true }));
});
