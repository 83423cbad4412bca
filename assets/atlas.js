/* Map styling for the Vaccine Capacity Atlas (dash-leaflet functions, referenced as atlas.*).
   Per-update data: {key, cls: [class per region], colors: [...]} for regions (applied by
   atlas.restyle), {bits: base64url bitset, n, labels, colours} for sites (in the site layer's
   hideout). Shapes are loaded once per NUTS version/level. */
window.atlas = Object.assign({}, window.atlas, (function () {
  let sitesRenderer = null;  // one SVG renderer in the site pane, made on first use
  const ZERO = -1, NO_DATA = -2, WITHHELD = -3;
  const FILL = {};
  FILL[ZERO] = '#ffffff'; FILL[NO_DATA] = '#e4e4e4'; FILL[WITHHELD] = '#b8b8b8';

  // The region classes of the latest update, and the region layers on the map by geometry key:
  // a filter change restyles the existing layers in place (no re-adding of 1,500 polygons).
  let state = {};
  const drawn = {key: null, layers: []};
  let selected = null;  // the NUTS code of the region whose profile is open

  // Leaflet measures its container once; re-measure when the panel around it changes size
  // (e.g. when the summary cards arrive), so fitting bounds and clustering use the real size.
  const watched = new WeakSet();
  function watchSize(map) {
    if (!map || watched.has(map) || typeof ResizeObserver === 'undefined') { return; }
    watched.add(map);
    new ResizeObserver(() => map.invalidateSize({pan: false})).observe(map.getContainer());
  }

  let bitsText = null, bits = null;
  function matches(hideout, i) {
    if (!hideout || !hideout.bits) { return false; }
    if (hideout.bits !== bitsText) {  // decode once per update, not once per point
      const raw = atob(hideout.bits.replace(/-/g, '+').replace(/_/g, '/'));
      bits = new Uint8Array(raw.length);
      for (let j = 0; j < raw.length; j++) { bits[j] = raw.charCodeAt(j); }
      bitsText = hideout.bits;
    }
    return (bits[i >> 3] >> (7 - (i & 7))) & 1;
  }
  // Site numbers below each cluster, looked up once per cluster: the clusters never change
  // (they are built from all sites), only which sites match does.
  function leafIndices(index, clusterId) {
    if (!index.atlasLeaves) { index.atlasLeaves = new Map(); }
    let ids = index.atlasLeaves.get(clusterId);
    if (!ids) {
      const leaves = index.getLeaves(clusterId, Infinity);
      ids = new Int32Array(leaves.length);
      for (let j = 0; j < leaves.length; j++) { ids[j] = leaves[j].properties.i; }
      index.atlasLeaves.set(clusterId, ids);
    }
    return ids;
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  }

  return {
    regionStyle: function (feature) {
      const h = state;
      const p = feature.properties;
      const c = (h.key === p.k && h.cls) ? h.cls[p.i] : NO_DATA;
      const fill = c >= 0 ? h.colors[c] : FILL[c];
      if (selected && p.id === selected) {
        return {fillColor: fill, fillOpacity: c === NO_DATA ? 0.55 : 0.9, color: '#c2185b', weight: 3,
                dashArray: null};
      }
      return {
        fillColor: fill, fillOpacity: c === NO_DATA ? 0.55 : 0.9,
        color: c === WITHHELD ? '#6b6b6b' : '#8c8c8c', weight: c === ZERO ? 0.6 : 0.4,
        dashArray: c === WITHHELD ? '2 3' : null,
      };
    },
    highlight: function (code) {
      // Clientside callback: outline the selected region (the map keeps its place).
      const previous = selected;
      selected = (typeof code === 'string' && code) ? code : null;
      for (const layer of drawn.layers) {
        const id = layer.feature.properties.id;
        if (id === selected || id === previous) {
          layer.setStyle(window.atlas.regionStyle(layer.feature));
          if (id === selected && layer.bringToFront) { layer.bringToFront(); }
        }
      }
      return selected || '';
    },
    regionHover: function () { return {weight: 2.5, color: '#222222'}; },
    regionEach: function (feature, layer, context) {
      watchSize(context && context.map);
      const key = feature.properties.k;
      if (drawn.key !== key || feature.properties.i === 0) { drawn.key = key; drawn.layers = []; }
      drawn.layers.push(layer);
    },
    restyle: function (payload) {
      // Clientside callback: apply the classes sent by the server to the regions already drawn,
      // touching only the regions whose colour changed (the canvas then repaints once).
      const previous = state;
      state = payload || {};
      if (drawn.key === state.key) {
        const style = window.atlas.regionStyle;
        const sameColours = previous.key === state.key && previous.colors && state.colors &&
          previous.colors.join() === state.colors.join();
        for (const layer of drawn.layers) {
          const i = layer.feature.properties.i;
          if (!sameColours || previous.cls[i] !== state.cls[i]) { layer.setStyle(style(layer.feature)); }
        }
      }
      return state.key ? state.key + ':' + (state.cls ? state.cls.length : 0) : '';
    },
    basemapStyle: function (feature) {
      return feature.properties.covered
        ? {fillColor: '#f4f2ec', fillOpacity: 1, color: '#7a7a7a', weight: 1.2}
        : {fillColor: '#d9d9d6', fillOpacity: 1, color: '#b5b5b0', weight: 0.8};
    },
    siteFilter: function (feature, context) {
      return feature.properties.cluster ? true : Boolean(matches(context.hideout, feature.properties.i));
    },
    sitePoint: function (feature, latlng, context) {
      const p = feature.properties;
      const h = context.hideout || {};
      const labels = h.labels || [], colours = h.colours || [];
      const stages = p.s.map(i => labels[i] || '');
      // above the regions, drawn in SVG (a canvas on top would take every mouse event from the
      // regions' canvas below; the SVG lets through all but its own points, see 1-atlas.css)
      sitesRenderer = sitesRenderer || L.svg({pane: 'atlas-sites'});
      const marker = L.circleMarker(latlng, {
        pane: 'atlas-sites', renderer: sitesRenderer,
        radius: 5, fillColor: p.s.length ? colours[p.s[0]] : '#666666', fillOpacity: 0.95,
        color: '#1f1f1f', weight: p.approx ? 1.5 : 0.6,
        dashArray: p.approx ? '2 2' : null,
      });
      const who = p.company ? escapeHtml(p.company) : '<i>company not public</i>';
      const where = p.city ? escapeHtml(p.city) : '';
      const approx = p.approx ? '<br><i>placed at the region centre (no coordinates)</i>' : '';
      marker.bindTooltip(`<b>${who}</b><br>${where}<br>${stages.map(escapeHtml).join(', ')}${approx}`);
      return marker;
    },
    siteCluster: function (feature, latlng, index, context) {
      // Clusters are built once from all sites; count only the sites matching the filters.
      const ids = leafIndices(index, feature.properties.cluster_id);
      let n = 0;
      for (let j = 0; j < ids.length; j++) { if (matches(context.hideout, ids[j])) { n++; } }
      if (n === 0) { return L.layerGroup(); }
      const size = n < 10 ? 'small' : (n < 100 ? 'medium' : 'large');
      return L.marker(latlng, {icon: L.divIcon({
        html: '<div><span>' + n + '</span></div>', className: 'marker-cluster marker-cluster-' + size,
        iconSize: L.point(36, 36)})});
    },
    sitesQuery: function (show, round, version, filters, previous) {
      if (!show) {
        return (previous && previous.show) ? {show: false} : window.dash_clientside.no_update;
      }
      return {show: true, round: round, version: version, filters: filters};
    },
    jump: function (target, targets) {
      const bounds = targets && targets[target];
      if (!bounds) { return window.dash_clientside.no_update; }
      return {bounds: bounds, transition: 'flyToBounds', options: {duration: 0.6}};
    },
  };
})());

/* Accessibility patches for parts Dash renders itself (checked by axe-core in the browser tests):
   - Dash 4's dropdown keeps a hidden focus target (aria-hidden, yet tabindex 0): a second, silent
     tab stop; it is taken out of the tab order (the dropdown's button keeps the focus);
   - the slider's thumb has no accessible name: it gets its slider's label. */
(function () {
  function patch(root) {
    root.querySelectorAll('.dash-dropdown-focus-target[aria-hidden="true"]').forEach(function (el) {
      if (el.getAttribute('tabindex') !== '-1') { el.setAttribute('tabindex', '-1'); }
    });
    root.querySelectorAll('[role="slider"]:not([aria-label])').forEach(function (el) {
      const owner = el.closest('[id]');
      const label = owner && document.querySelector('label[for="' + owner.id + '"]');
      el.setAttribute('aria-label', label ? label.textContent.trim() : 'Value');
    });
  }
  function start() {
    patch(document);
    new MutationObserver(function () { patch(document); }).observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', start); } else { start(); }
})();

/* The region table's sort (the table is one HTML fragment from the server): a header button sorts
   the rows by that column's keys, which are the figures the role sees; a figure not shown (an
   empty key) sorts last whatever the direction, then by region name. */
(function () {
  document.addEventListener('click', function (event) {
    const button = event.target.closest && event.target.closest('#region-table-element .atlas-sort');
    if (!button) { return; }
    const table = button.closest('table');
    const th = button.closest('th');
    const column = Number(button.dataset.column);
    const numeric = button.dataset.kind === 'number';
    const descending = th.getAttribute('aria-sort') === 'ascending' ||
      (th.getAttribute('aria-sort') === 'none' && numeric);
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const key = row => row.cells[column].dataset.sort || '';
    const name = row => row.cells[0].dataset.sort || '';
    rows.sort(function (a, b) {
      const ka = key(a), kb = key(b);
      if (!ka || !kb) { return (ka ? -1 : kb ? 1 : 0) || name(a).localeCompare(name(b)); }
      const order = numeric ? Number(ka) - Number(kb) : ka.localeCompare(kb);
      return (descending ? -order : order) || name(a).localeCompare(name(b));
    });
    body.append(...rows);
    table.querySelectorAll('thead th').forEach(h => h.setAttribute('aria-sort', 'none'));
    th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
  });
})();

/* A company's button in a profile's site list opens the site's card (the list is one HTML
   fragment; the card is the server's, for the role: callbacks register_site_cards). */
document.addEventListener('click', function (event) {
  const button = event.target.closest && event.target.closest('.atlas-site-open');
  if (button && window.dash_clientside && window.dash_clientside.set_props) {
    // a new value each click (the same site may be opened again after its card was closed)
    window.dash_clientside.set_props('site-chosen', {data: button.dataset.facility + '#' + Date.now()});
  }
});
