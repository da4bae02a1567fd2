# The gateway image: one program, three roles (GATEWAY_ROLE=gateway | worker | all), run compiled with
# `node dist/main.js`; no TypeScript, tsx or webpack at run time (workers load the prebuilt workflow bundle).
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
# Everything `npm run build` reads (scripts/build-state.ts lists the same inputs).
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:20.20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json gateway.example.yaml ./
COPY config ./config
# Files the gateway and its workers share (batches.dir) live under /data: a volume, writable by the node user.
RUN mkdir -p /data/files && chown -R node:node /data
USER node
EXPOSE 8080
ENV GATEWAY_CONFIG=/etc/gateway/gateway.yaml
# V8 grows the old generation to (1 + 100 %) of what survived the last full GC instead of up to 4x: under load
# the gateway's garbage (most of its RSS) is collected sooner, ~225 -> ~173 MB peak RSS at c=16/64 for ~5-8 % more
# CPU per request (bench/overhead.ts "(alt)" rows). Not allowed in NODE_OPTIONS, so a flag here; the same as
# `npm run start:prod` (test/unit/compose-file.test.ts).
CMD ["node", "--heap-growing-percent=100", "dist/main.js"]
