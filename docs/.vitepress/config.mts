// VitePress configuration of the documentation site (`npm run docs` builds it into
// docs/.vitepress/dist, `npm run docs:dev` serves it with live reload).
//
// The guide pages are docs/guide/*.md, listed below in reading order. The API reference is
// generated markdown: `npm run docs:api` runs TypeDoc (typedoc.json, with typedoc-plugin-markdown
// and typedoc-vitepress-theme) into docs/api/ and writes docs/api/typedoc-sidebar.json, whose
// entries (one group per module, one sub-group per category) become the "API" sidebar here.
//
// Links are checked at build time (VitePress fails on a dead link), and the site uses base '/'
// with `.html` URLs, so docs/.vitepress/dist works as it is on any static server.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type DefaultTheme } from 'vitepress';

const apiSidebarFile = fileURLToPath(new URL('../api/typedoc-sidebar.json', import.meta.url));
if (!existsSync(apiSidebarFile)) {
  throw new Error(`docs: ${apiSidebarFile} is missing: run \`npm run docs:api\` first (\`npm run docs\` and \`npm run docs:dev\` do)`);
}
const apiSidebar = JSON.parse(readFileSync(apiSidebarFile, 'utf8')) as DefaultTheme.SidebarItem[];

/** ∇ on a blue square: the site's icon. */
const favicon =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#3451b2"/><path d="M7 8h18L16 25z" fill="none" stroke="#fff" stroke-width="2.5" stroke-linejoin="round"/></svg>';

/** The guide, in reading order. */
const guide: DefaultTheme.SidebarItem[] = [
  {
    text: 'Introduction',
    items: [
      { text: 'Getting started', link: '/guide/getting-started' },
      { text: "The paper's question", link: '/guide/paper' },
    ],
  },
  {
    text: 'Using natgrad',
    items: [
      { text: 'Problems and curvatures', link: '/guide/problems' },
      { text: 'Networks', link: '/guide/networks' },
      { text: 'Float32', link: '/guide/float32' },
      { text: 'Matrix-free methods', link: '/guide/matrix-free' },
      { text: 'Optimizers and training', link: '/guide/optimizers' },
      { text: 'Laplace approximations', link: '/guide/laplace' },
      { text: 'Threads', link: '/guide/threads' },
      { text: 'Conventions', link: '/guide/conventions' },
    ],
  },
  {
    text: 'The paper and beyond',
    items: [
      { text: 'Reproducing the paper', link: '/guide/reproducing' },
      { text: 'Beyond the paper', link: '/guide/beyond' },
    ],
  },
  {
    text: 'Reference',
    items: [
      { text: 'Limits and errors', link: '/guide/limits' },
      { text: 'Benchmarks', link: '/guide/benchmarks' },
      { text: 'Architecture', link: '/guide/architecture' },
      { text: 'Interactive page', link: '/guide/interactive' },
      { text: 'API reference', link: '/api/' },
    ],
  },
];

const api: DefaultTheme.SidebarItem[] = [{ text: 'API reference', link: '/api/', items: apiSidebar }];

export default defineConfig({
  title: 'natgrad',
  description: 'Curvature matrices (Hessian, GGN, Fisher, empirical Fisher) and natural-gradient optimizers on a SIMD WebAssembly core',
  lang: 'en-US',
  // An inline icon, so that browsers do not ask the server for a /favicon.ico it does not have.
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: `data:image/svg+xml,${encodeURIComponent(favicon)}` }]],
  base: '/',
  cleanUrls: false,
  lastUpdated: false,
  // The typedoc-sidebar.json next to the generated pages is read above, not a page.
  srcExclude: ['**/README.md'],
  markdown: {
    // The TSDoc of the API reference writes formulas as indented blocks (four spaces); render them
    // as the fenced ```text blocks they stand for, with the theme's code-block frame and scrolling.
    // typedoc-plugin-markdown's sanitizeComments escapes < > { } outside fenced code (so that no
    // comment text reaches Vue's template compiler as a tag or an interpolation); inside a code
    // block markdown keeps the backslashes, so they are removed here.
    config(md) {
      md.renderer.rules.code_block = (tokens, idx, options, env, self) => {
        const token = tokens[idx]!;
        token.info = 'text';
        token.content = token.content.replace(/\\([<>{}])/g, '$1');
        return md.renderer.rules.fence!(tokens, idx, options, env, self);
      };
    },
  },
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/getting-started', activeMatch: '^/guide/' },
      { text: 'API', link: '/api/', activeMatch: '^/api/' },
      { text: 'Interactive page', link: '/guide/interactive' },
    ],
    sidebar: {
      '/guide/': guide,
      '/api/': api,
    },
    search: { provider: 'local' },
    outline: { level: [2, 3] },
    docFooter: { prev: 'Previous', next: 'Next' },
  },
  vite: {
    // The local search index of the whole site (the API reference included) is one chunk of
    // about 0.8 MB, loaded when the search box opens; do not warn about it.
    build: { chunkSizeWarningLimit: 1536 },
  },
});
