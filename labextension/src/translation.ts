/**
 * The labextension's own translation domain.
 */

import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

/**
 * Translation domain of jupyter-sidecar-ext (its gettext domain).
 */
export const TRANSLATION_DOMAIN = 'jupyter_sidecar_ext';

/**
 * The bundle of our domain (untranslated when there is no translator).
 */
export function loadBundle(
  translator: ITranslator | null | undefined
): TranslationBundle {
  return (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
}
