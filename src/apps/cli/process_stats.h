// Process-level measurements for reports.
#pragma once

namespace mattecast::cli {

double peak_rss_mb();  // high-water mark of resident memory
double current_rss_mb();

}  // namespace mattecast::cli
