export { LoadBoard, type DispatchTicket, type EndpointLoad, type LoadBoardOptions, type LoadFacts } from './board.js';
export { parseSglangMetrics, parseVllmMetrics } from './exposition.js';
export { parseLmStudioModels, parseOllamaPs } from './model-state.js';
export { LOAD_SOURCES, type LoadReport, type LoadSourceName } from './report.js';
export { LoadScraper, type LoadScraperOptions, type LoadTarget, type ScrapeResult, type TextFetcher } from './scraper.js';
