/**
 * The DOM of one row of the Variables table (a variable, a child, or a note
 * under an expanded item). Every cell's full text is its `title` (hover),
 * since narrow columns cut it.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { caretRightIcon, tableRowsIcon } from '@jupyterlab/ui-components';

import { COLUMNS } from './columns';
import { formatBytes, formatCount, formatShape } from './format';
import { formatKey } from './paths';
import { CHILDREN_PAGE_SIZE, isTabular, TreeRow } from './tree';
import type { SortColumn } from './types';

export const PANEL_CLASS = 'jp-SidecarVariables';

/**
 * Indentation per level of the tree, in px.
 */
export const INDENT = 10;

/**
 * Width of the chevron (or of the space where it would be), in px.
 */
export const CHEVRON_WIDTH = 16;

/**
 * Width of the Data Viewer button in the name cell, in px.
 */
export const OPEN_DATA_WIDTH = 20;

/**
 * The texts of an item row's cells.
 */
export function cellTexts(row: TreeRow): Record<SortColumn, string> {
  if (row.kind !== 'variable' && row.kind !== 'child') {
    return { name: '', type: '', shape: '', size: '', value: '' };
  }
  return {
    name: row.kind === 'variable' ? row.name : formatKey(row.key),
    type: row.type,
    shape: row.shapeText ?? formatShape(row.shape, row.type),
    size: row.sizeText ?? formatBytes(row.size),
    value: row.error ?? row.value
  };
}

/**
 * What a note row says.
 */
export function noteText(row: TreeRow, trans: TranslationBundle): string {
  switch (row.kind) {
    case 'loading':
      return trans.__('Loading…');
    case 'error':
      return trans.__('Cannot list the contents: %1', row.message);
    case 'empty':
      return trans.__('Nothing inside');
    case 'more': {
      const next =
        row.total === null
          ? CHILDREN_PAGE_SIZE
          : Math.min(CHILDREN_PAGE_SIZE, row.total - row.shown);
      return row.total === null
        ? trans.__('Show %1 more (%2 shown)', next, formatCount(row.shown))
        : trans.__(
            'Show %1 more (%2 of %3)',
            next,
            formatCount(row.shown),
            formatCount(row.total)
          );
    }
    default:
      return '';
  }
}

/**
 * Everything a row's DOM is made from: rows with equal keys render alike.
 */
export function rowKey(row: TreeRow, selected: boolean): string {
  return JSON.stringify([selected, row]);
}

export function renderRow(
  row: TreeRow,
  selected: boolean,
  trans: TranslationBundle
): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.kind = row.kind;
  tr.tabIndex = selected ? 0 : -1;
  tr.setAttribute('aria-level', String(row.depth + 1));
  tr.setAttribute('aria-selected', String(selected));
  const indent = row.depth * INDENT;
  if (row.kind !== 'variable' && row.kind !== 'child') {
    const cell = tr.insertCell();
    cell.colSpan = COLUMNS.length;
    cell.className = `${PANEL_CLASS}-note`;
    cell.style.paddingLeft = `${indent + CHEVRON_WIDTH + 6}px`;
    cell.textContent = noteText(row, trans);
    cell.title = cell.textContent;
    return tr;
  }
  if (row.kind === 'variable') {
    tr.dataset.name = row.name;
    tr.title = trans.__('Open the rich view of %1', row.name);
  }
  if (row.expandable) {
    tr.setAttribute('aria-expanded', String(row.expanded));
  }
  if (row.error !== null) {
    tr.dataset.error = 'true';
  }
  const texts = cellTexts(row);
  for (const column of COLUMNS) {
    const cell = tr.insertCell();
    cell.dataset.column = column;
    const text = document.createElement('span');
    text.className = `${PANEL_CLASS}-text`;
    text.textContent = texts[column];
    cell.title = texts[column];
    if (column === 'name') {
      cell.style.paddingLeft = `${indent + 2}px`;
      if (row.kind === 'variable' && isTabular(row)) {
        // First, floated right: it stays visible however the name is cut.
        cell.append(dataViewerButton(row.name, trans));
      }
      cell.append(chevron(row, trans));
    }
    cell.append(text);
  }
  return tr;
}

function chevron(row: TreeRow, trans: TranslationBundle): HTMLElement {
  const node = document.createElement('span');
  node.className = `${PANEL_CLASS}-chevron`;
  if (row.kind !== 'variable' && row.kind !== 'child') {
    return node;
  }
  if (row.expandable) {
    caretRightIcon.element({ container: node });
    node.title = row.expanded ? trans.__('Collapse') : trans.__('Expand');
  }
  return node;
}

function dataViewerButton(
  name: string,
  trans: TranslationBundle
): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.tabIndex = -1;
  button.className = `${PANEL_CLASS}-openData jp-Button jp-mod-minimal`;
  button.title = trans.__('Open %1 in the Data Viewer', name);
  button.setAttribute('aria-label', button.title);
  tableRowsIcon.element({ container: button });
  return button;
}
