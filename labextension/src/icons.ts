/**
 * The icons of the labextension, in one place.
 */

import { LabIcon, variableIcon } from '@jupyterlab/ui-components';

/**
 * Formatting (lines of text set straight).
 */
export const formatIcon = new LabIcon({
  name: 'jupyter-sidecar-ext:format',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" ' +
    'd="M3 4h18v2H3zm4 4h14v2H7zm-4 4h18v2H3zm4 4h14v2H7zm-4 4h18v2H3z"/>' +
    '</svg>'
});

/**
 * The Variables panel and variable views (JupyterLab's own variable icon).
 */
export { variableIcon };

function icon24(name: string, path: string, fill = '#616161'): LabIcon {
  return new LabIcon({
    name: `jupyter-sidecar-ext:${name}`,
    svgstr:
      '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
      `<path class="jp-icon3" fill="${fill}" d="${path}"/></svg>`
  });
}

/**
 * "Run Cell and What It Needs": run, with an arrow up to the cells above.
 */
export const runNeedsIcon = icon24(
  'run-needs',
  'M3 6v12l9-6zM18 3l-4.5 4.5H17V21h2V7.5h3.5z'
);

/**
 * "Run Cell and What Depends on It": run, with an arrow down to the cells
 * below.
 */
export const runDependentsIcon = icon24(
  'run-dependents',
  'M3 6v12l9-6zM17 3v13.5h-3.5L18 21l4.5-4.5H19V3z'
);

/**
 * A cell whose output may be out of date (Material "history").
 */
export const staleIcon = new LabIcon({
  name: 'jupyter-sidecar-ext:stale',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path d="M13 3a9 9 0 0 0-9 9H1l3.89 3.89.07.14L9 12H6c0-3.87 3.13-7 ' +
    '7-7s7 3.13 7 7-3.13 7-7 7c-1.93 0-3.68-.79-4.94-2.06l-1.42 1.42A8.954 ' +
    '8.954 0 0 0 13 21a9 9 0 0 0 0-18zm-1 5v5l4.28 2.54.72-1.21-3.5-2.08V8H12z"/>' +
    '</svg>'
});

/**
 * A cell reading state no cell of the notebook defines (Material
 * "visibility_off").
 */
export const hiddenStateIcon = new LabIcon({
  name: 'jupyter-sidecar-ext:hidden-state',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path d="M12 7c2.76 0 5 2.24 5 5 0 .65-.13 1.26-.36 1.83l2.92 2.92c1.51-' +
    '1.26 2.7-2.89 3.43-4.75-1.73-4.39-6-7.5-11-7.5-1.4 0-2.74.25-3.98.7l2.16 ' +
    '2.16C10.74 7.13 11.35 7 12 7zM2 4.27l2.28 2.28.46.46A11.804 11.804 0 0 0 ' +
    '1 12c1.73 4.39 6 7.5 11 7.5 1.55 0 3.03-.3 4.38-.84l.42.42L19.73 22 21 ' +
    '20.73 3.27 3 2 4.27zM7.53 9.8l1.55 1.55c-.05.21-.08.43-.08.65 0 1.66 1.34 ' +
    '3 3 3 .22 0 .44-.03.65-.08l1.55 1.55c-.67.33-1.41.53-2.2.53-2.76 0-5-2.24-' +
    '5-5 0-.79.2-1.53.53-2.2zm4.31-.78l3.15 3.15.02-.16c0-1.66-1.34-3-3-3l-.17.01z"/>' +
    '</svg>'
});
