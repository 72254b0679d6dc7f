@echo off
rem Builds (incrementally) and runs product-service alone; it reads product-service\.env when present.
cd /d "%~dp0.."
call npx tsc -b product-service || exit /b 1
cd product-service
node dist\src\main.js
