"""Every component id, in one place. Values are stable: tests and other tools drive the page by them."""


class Ids:
    LEVEL = "level"
    VERSION = "version"
    METRIC = "metric"
    STAGE = "stage"
    BOTTLENECK = "bottleneck"
    PLATFORM = "platform"
    COUNTRY = "country"
    SIZE = "company-size"
    SCHEME = "scheme"
    K = "classes"
    POINTS = "show-sites"
    MAP = "map"
    BASEMAP = "basemap"
    REGIONS = "regions"
    REGION_CLASSES = "region-classes"  # Store: {key, cls, colors} of the latest update
    REGIONS_STYLED = "regions-styled"  # Store: written by the clientside restyle
    SITES = "sites"
    SITES_QUERY = "sites-query"  # Store: {show, version, filters} while the site layer is on
    LEGEND = "legend"
    INFO = "region-info"
    JUMP = "jump"
    JUMP_TARGETS = "jump-targets"
    SUMMARY = "summary"
    EXPORT_SITES = "export-sites"
    EXPORT_REGIONS = "export-regions"
    DOWNLOAD_SITES = "download-sites"
    DOWNLOAD_REGIONS = "download-regions"
    STATUS = "status"
    ROUND = "round"  # the published survey round shown
    COMPARE = "compare-round"  # an earlier round to show the change from, or none
    DATA_LINE = "data-line"
    SAMPLE_BADGE = "sample-badge"
    URL = "url"  # dcc.Location: the view lives in the query string
    URL_NOTICE = "url-notice"
    VIEW = "view"  # "map" or "table"
    COPY_LINK = "copy-link"
    COPIED = "copied"
    MAP_VIEW = "map-view"
    TABLE_VIEW = "table-view"
    TABLE = "region-table"
    TABLE_SORT = "table-sort"  # Store: {column, descending}
    SELECTED = "selected-region"  # Store: the NUTS code of the region whose profile is open
    PROFILE = "region-profile"
