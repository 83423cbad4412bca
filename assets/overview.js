/* The bottleneck overview's small maps (dash-leaflet functions, referenced as atlasOverview.*).
   The regions GeoJSON is the one the main map loads (fetched once per version and level); a
   layer's hideout carries {key, cls: [class per region], colors, tips: [hover text per region],
   bounds}, aligned with the features' property i. */
window.atlasOverview = Object.assign({}, window.atlasOverview, (function () {
  const ZERO = -1, NO_DATA = -2, WITHHELD = -3;
  const FILL = {};
  FILL[ZERO] = '#ffffff'; FILL[NO_DATA] = '#e4e4e4'; FILL[WITHHELD] = '#b8b8b8';
  const watched = new WeakSet();

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  }
  // A small map may be created while its view is hidden (no size): measure it again and fit it
  // to Europe once it has a size, and whenever the view around it changes size.
  function watch(map, bounds) {
    if (!map || watched.has(map)) { return; }
    watched.add(map);
    let fitted = false;
    const fit = () => {
      map.invalidateSize({pan: false});
      const size = map.getSize();
      if (!fitted && bounds && size.x > 0 && size.y > 0) { map.fitBounds(bounds, {animate: false}); fitted = true; }
    };
    fit();
    if (typeof ResizeObserver !== 'undefined') { new ResizeObserver(fit).observe(map.getContainer()); }
  }
  function klass(feature, hideout) {
    const p = feature.properties;
    return (hideout && hideout.key === p.k && hideout.cls) ? hideout.cls[p.i] : NO_DATA;
  }

  return {
    regionStyle: function (feature, context) {
      const h = (context && context.hideout) || {};
      const c = klass(feature, h);
      return {
        fillColor: c >= 0 ? h.colors[c] : FILL[c], fillOpacity: c === NO_DATA ? 0.55 : 0.9,
        color: c === WITHHELD ? '#6b6b6b' : '#8c8c8c', weight: c === ZERO ? 0.6 : 0.4,
        dashArray: c === WITHHELD ? '2 3' : null,
      };
    },
    regionEach: function (feature, layer, context) {
      const h = (context && context.hideout) || {};
      watch(context && context.map, h.bounds);
      const p = feature.properties;
      const tip = (h.key === p.k && h.tips) ? h.tips[p.i] : '';
      const lines = [escapeHtml(`${p.name} (${p.id})`)];
      lines.push(tip ? escapeHtml(tip).replace(/\n/g, '<br>') : 'no data');
      layer.bindTooltip(lines.join('<br>'), {sticky: true});
    },
  };
})());
