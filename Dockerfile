# syntax=docker/dockerfile:1
# One image for Sluice and the sample model server (the same package ships both binaries).
#   docker build -t sluice .
#   docker run -p 8080:8080 -v $PWD/my-sluice.yaml:/etc/sluice/sluice.yaml:ro sluice
#   docker run -e PORT=8001 -e HOST=0.0.0.0 sluice node dist/model-server/main.js

ARG NODE_IMAGE=node:24-slim

# ---- build: compile TypeScript with the dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Default configuration: the compose stack's endpoints. Mount your own file over it.
COPY config/compose.yaml /etc/sluice/sluice.yaml

USER node
EXPOSE 8080
# The slim image has no curl; Node's fetch does the probe. 200 once an endpoint is routable.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SLUICE_PORT || 8080) + '/internal/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/cli.js", "--config", "/etc/sluice/sluice.yaml"]
