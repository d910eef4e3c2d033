export { LoadBoard, STALE_FLOOR_LIFETIME_FACTOR, type DispatchTicket, type EndpointLoad, type LoadBoardOptions, type LoadFacts } from './board.js';
export { MAX_KEPT_CHARS, MAX_SERIES_PER_FAMILY, parseSglangMetrics, parseVllmMetrics } from './exposition.js';
export { parseLmStudioModels, parseOllamaPs } from './model-state.js';
export { LOAD_SOURCES, type LoadReport, type LoadSourceName } from './report.js';
export { LoadScraper, type LoadScraperOptions, type LoadTarget, type ScrapeResult, type TextFetcher } from './scraper.js';
