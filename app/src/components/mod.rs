//! Building blocks shared by the pages: the frame with navigation, the page header, the time
//! range and refresh pickers, the theme switch, URL state helpers, and whether hydration is over.

pub mod hydration;
pub mod layout;
pub mod page_header;
pub mod panel;
pub mod promql_editor;
pub mod refresh_picker;
pub mod session;
pub mod theme;
pub mod time_picker;
pub mod time_series_chart;
pub mod url_state;
