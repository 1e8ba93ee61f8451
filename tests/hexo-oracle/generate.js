// Run the real Hexo on a copy of a site: `node generate.js SITE_DIR` writes SITE_DIR/public.
// Modules come from NODE_PATH (the folder `npm ci` installed package-lock.json into).
'use strict';

const Hexo = require('hexo');

async function main(siteDir) {
  const hexo = new Hexo(siteDir, { silent: true });
  hexo.env.init = true; // as hexo-cli sets it on finding a site: read its _config.yml
  await hexo.init();
  for (const name of ['hexo-renderer-marked', 'hexo-generator-feed']) {
    await hexo.loadPlugin(require.resolve(name));
  }
  await hexo.call('generate', {});
  await hexo.exit();
}

main(process.argv[2]).catch(error => {
  console.error(error);
  process.exit(1);
});
