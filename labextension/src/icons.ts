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
